#!/usr/bin/env bash
# The whole benchmark in one command, on one Linux machine, loopback only:
#
#   bench/run.sh                                  # defaults: 3 rounds, 10 s runs, 1000 req/s
#   ROUNDS=1 DURATION=3 RATE_DURATION=3 SSE_STREAMS=1000 JMH=0 bench/run.sh   # a quick smoke run
#
# Builds the gateway and the bench tools (no `mvn install`), starts the stub upstream, the peers
# and the Portcullis modes pinned to CPUs, measures them in interleaved rounds, and prints the
# Markdown table and the chart's path. Every process it starts is stopped on exit, by PID.
# Knobs (environment variables) and how to read the results: bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
DEBIAN_PACKAGES="wrk nginx-light libnginx-mod-http-echo apache2 libapache2-mod-auth-openidc haproxy util-linux"

install_packages() {
  # INSTALL=1: install the load generator and the peers from Debian (needs root).
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $DEBIAN_PACKAGES >/dev/null
}

require_tools() {
  local missing=()
  for tool in java mvn python3 wrk nginx taskset; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    echo "missing: ${missing[*]}. On Debian: apt-get install -y $DEBIAN_PACKAGES (or run with INSTALL=1)." >&2
    exit 1
  fi
  for optional in apache2 haproxy jcmd; do
    command -v "$optional" >/dev/null || echo "note: $optional not found; its target/figure will be skipped" >&2
  done
}

build_jars() {
  # BUILD=0 reuses the jars already built. One reactor builds the gateway and the bench modules
  # (the root pom's `bench` profile), so nothing is installed into the local Maven repository.
  if [[ "${BUILD:-1}" == 1 ]]; then
    echo "building gateway-app/target/portcullis.jar and the bench jars ..." >&2
    (cd "$REPO_DIR" && mvn -B -q -Pbench -Dmaven.test.skip=true package)
  fi
}

build_baseline() {
  # BASELINE_REF=<commit>: that commit's gateway jar, built once in a throw-away worktree and cached in
  # bench/.cache/, runs as the target baseline-full (the full path "before", measured in the same run).
  [[ -n "${BASELINE_REF:-}" ]] || return 0
  local sha jar tree
  sha="$(git -C "$REPO_DIR" rev-parse --verify "${BASELINE_REF}^{commit}")"
  jar="$BENCH_DIR/.cache/baseline-$sha.jar"
  if [[ ! -f "$jar" ]]; then
    echo "building the baseline gateway at $BASELINE_REF ($sha) ..." >&2
    tree="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-baseline-XXXXXX")"
    git -C "$REPO_DIR" worktree add --detach -q "$tree" "$sha"
    (cd "$tree" && mvn -B -q -Dmaven.test.skip=true -pl gateway-app -am package)
    mkdir -p "$BENCH_DIR/.cache"
    cp "$tree/gateway-app/target/portcullis.jar" "$jar"
    git -C "$REPO_DIR" worktree remove --force "$tree"
  fi
  export BASELINE_JAR="$jar"
}

raise_file_limit() {
  # 10,000 idle SSE streams need ~20,000 descriptors in the gateway and as many in the client.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}

[[ "${INSTALL:-0}" == 1 ]] && install_packages
require_tools
build_jars
build_baseline
raise_file_limit
# The orchestrator replaces this shell, so a Ctrl-C or TERM reaches it directly; it stops every
# process it started (by saved PID) before exiting.
exec python3 "$BENCH_DIR/harness/bench.py"
