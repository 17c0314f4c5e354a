#!/usr/bin/env bash
# Where one target's CPU per request goes: perf samples of the gateway under wrk load, split by
# kernel / Netty / gateway code / Jackson / crypto / logging / metrics / JVM (bench/README.md, "Profile").
#
#   bench/profile.sh                                   # portcullis-full, 15 s
#   PROFILE_TARGET=portcullis-many-tokens PROFILE_SECONDS=10 bench/profile.sh
#
# Needs what bench/run.sh needs, plus `perf` (Debian: linux-perf) and permission to sample a process
# you started (root, or kernel.perf_event_paranoid <= 1). BUILD=0 reuses the jars already built.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
command -v perf >/dev/null || { echo "missing: perf (Debian: apt-get install -y linux-perf)" >&2; exit 1; }
if [[ "${BUILD:-1}" == 1 ]]; then
  (cd "$REPO_DIR" && mvn -B -q -Pbench -Dmaven.test.skip=true package)
fi
# The JIT's symbol map (jcmd Compiler.perfmap) is written to /tmp/perf-<pid>.map, where perf looks.
export GATEWAY_JAVA_OPTS="${GATEWAY_JAVA_OPTS:--Xms256m -Xmx1g -Dportcullis.io-threads=1} -XX:+PreserveFramePointer"
exec python3 "$BENCH_DIR/harness/cpu_profile.py"
