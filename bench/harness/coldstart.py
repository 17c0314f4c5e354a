"""Cold start to ready: wall time from starting the gateway's JVM to /readyz answering 200 on the admin
port, and to the first proxied 200, over COLD_STARTS fresh processes (median reported).

Each start is a new `java -jar gateway-app/target/portcullis.jar run` with the bench's typical config
(conf/portcullis-auth.yaml: one issuer whose JWKS the stub upstream serves, one route), pinned like
every gateway target (PROXY_CPUS), with GATEWAY_JAVA_OPTS. The clock starts just before the process is
spawned; /readyz is polled every 10 ms, then the bench's tools/call is sent until it answers 200. Every
start is bounded (COLD_START_TIMEOUT seconds) and its process stopped by PID before the next.

The JVM's CPU time (utime + stime of the process, all threads) when /readyz first answers is recorded
too: on a machine shared with other work, a pinned JVM waits for its CPU and the wall time grows, while
the CPU time it needed does not.

The breakdown comes from the gateway's own log (logback timestamps, millisecond resolution, against the
wall clock at spawn): JVM start and config load up to the first log line, the JWKS fetch, the EC
provider choice, the listeners bound. `--variants` also compares JVM options (class-data sharing off,
an AppCDS archive of the gateway's classes, C1 only, and on JDK 25+ an AOT cache) and counts loaded
classes (-Xlog:class+load). GATEWAY_JAVA picks another JDK's launcher.

Standalone (starts its own stub upstream; needs the jars built and the bench tokens minted once):

    python3 bench/harness/coldstart.py [--starts 5] [--variants]
"""
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone

from processes import cpu_seconds, pinned
from targets import smoke_request

# Log lines that mark the phases of a start (gateway log, INFO).
MILESTONES = [
    ("first log line", None),
    ("JWKS loaded", "signing key(s)"),
    ("EC provider chosen", "EC signature verification"),
    ("listening", "Portcullis listening on"),
]
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")


def _ready(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _milestones(log_path, spawned_wall):
    """Seconds from spawn to each milestone, from the log's UTC timestamps."""
    found = {}
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = LOG_TIME.match(line)
                if not m:
                    continue
                at = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                    tzinfo=timezone.utc).timestamp() - spawned_wall
                for name, marker in MILESTONES:
                    if name not in found and (marker is None or marker in line):
                        found[name] = round(at, 3)
    except OSError:
        pass
    return found


def one_start(s, launcher, processes, label, index, body, token, extra_java_opts=(), timeout=30.0, stop_grace=10.0):
    """One cold start; returns {"ready_s", "first_proxied_s", "milestones"} (None where not reached)."""
    name = f"coldstart-{label}-{index}"
    conf, port, admin, env = launcher.portcullis_config(name, "portcullis-auth.yaml", "/mcp")
    log_path = os.path.join(os.path.dirname(conf), "gateway.log")
    argv = [*launcher.gateway_command(extra_java_opts), "run", "--config", conf]
    spawned_wall, began = time.time(), time.monotonic()
    entry = processes.start(name, argv, log_path, s.proxy_cpus, env=env)
    ready = first = ready_cpu = None
    try:
        while time.monotonic() - began < timeout and entry.process.poll() is None:
            if _ready(admin):
                ready = time.monotonic() - began
                ready_cpu = cpu_seconds(entry.pid)
                break
            time.sleep(0.01)
        while ready is not None and time.monotonic() - began < timeout:
            status, _ = smoke_request(f"http://127.0.0.1:{port}/mcp", body, token)
            if status == 200:
                first = time.monotonic() - began
                break
            time.sleep(0.01)
    finally:
        processes.stop(entry, grace=stop_grace)
    return {"ready_s": None if ready is None else round(ready, 3),
            "ready_cpu_s": None if ready_cpu is None else round(ready_cpu, 3),
            "first_proxied_s": None if first is None else round(first, 3),
            "milestones": _milestones(log_path, spawned_wall), "log": log_path}


def _median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def series(s, launcher, processes, label, starts, body, token, extra_java_opts=(), log=print):
    runs = [one_start(s, launcher, processes, label, i, body, token, extra_java_opts, s.cold_start_timeout)
            for i in range(starts)]
    for r in runs:
        r.pop("log", None)
    result = {
        "label": label, "java_opts": " ".join([*s.gateway_java_opts.split(), *extra_java_opts]), "starts": starts,
        "ready_s": [r["ready_s"] for r in runs], "first_proxied_s": [r["first_proxied_s"] for r in runs],
        "median_ready_s": _median([r["ready_s"] for r in runs]),
        "ready_cpu_s": [r["ready_cpu_s"] for r in runs],
        "median_ready_cpu_s": _median([r["ready_cpu_s"] for r in runs]),
        "median_first_proxied_s": _median([r["first_proxied_s"] for r in runs]),
        "median_milestones_s": {name: _median([r["milestones"].get(name) for r in runs]) for name, _ in MILESTONES},
    }
    log(f"cold start [{label}]: /readyz 200 after {result['median_ready_s']} s ({result['median_ready_cpu_s']} s of CPU), "
        f"first proxied 200 after {result['median_first_proxied_s']} s (median of {starts}; all: {result['ready_s']})")
    return result


def class_counts(s, launcher, processes, body, token, extra_java_opts=()):
    """Classes loaded by one start (until the first proxied 200), and how many came from a CDS archive."""
    out = os.path.join(launcher.work, f"class-load-{len(extra_java_opts)}.txt")
    one_start(s, launcher, processes, "classes", 0, body, token,
              (*extra_java_opts, f"-Xlog:class+load=info:file={out}"), s.cold_start_timeout)
    total = shared = 0
    try:
        with open(out, errors="replace") as f:
            for line in f:
                if "source:" in line:
                    total += 1
                    shared += "shared objects file" in line
    except OSError:
        pass
    return {"loaded": total, "from_cds": shared}


def app_cds_archive(s, launcher, processes, body, token):
    """A dynamic AppCDS archive of one start's classes (-XX:ArchiveClassesAtExit), or None."""
    archive = os.path.join(launcher.work, "portcullis-app.jsa")
    # The archive is written while the JVM exits (after SIGTERM): give it time before any SIGKILL.
    one_start(s, launcher, processes, "appcds-dump", 0, body, token, (f"-XX:ArchiveClassesAtExit={archive}",),
              s.cold_start_timeout, stop_grace=90.0)
    return archive if os.path.exists(archive) else None


def measure(s, launcher, processes, keys_dir, variants=False, log=print):
    """The cold-start figures for results.json (and, with variants, the JVM-option comparison)."""
    with open(s.body_file, "rb") as f:
        body = f.read()
    with open(os.path.join(keys_dir, "token-rs256.txt")) as f:
        token = f.read().strip()
    result = {"default": series(s, launcher, processes, "default", s.cold_starts, body, token, log=log),
              "pinned_cpus": s.proxy_cpus or "unpinned", "java": _java_version(s.gateway_java)}
    if variants:
        result["classes"] = class_counts(s, launcher, processes, body, token)
        result["variants"] = [series(s, launcher, processes, "cds-off", s.cold_starts, body, token, ("-Xshare:off",), log)]
        archive = app_cds_archive(s, launcher, processes, body, token)
        if archive:
            opts = (f"-XX:SharedArchiveFile={archive}",)
            result["variants"].append(series(s, launcher, processes, "appcds", s.cold_starts, body, token, opts, log))
            result["classes_appcds"] = class_counts(s, launcher, processes, body, token, opts)
        result["variants"].append(series(s, launcher, processes, "c1-only", s.cold_starts, body, token,
                                         ("-XX:TieredStopAtLevel=1",), log))
        if _feature_version(s.gateway_java) >= 25:
            cache = aot_cache(s, launcher, processes, body, token)
            if cache:
                result["variants"].append(series(s, launcher, processes, "aot-cache", s.cold_starts, body, token,
                                                 (f"-XX:AOTCache={cache}",), log))
    return result


def aot_cache(s, launcher, processes, body, token):
    """JDK 25+: an AOT cache (JEP 483/514/515: classes loaded and linked, method profiles) from one
    training start (-XX:AOTCacheOutput, written at exit), or None."""
    cache = os.path.join(launcher.work, "portcullis.aot")
    one_start(s, launcher, processes, "aot-train", 0, body, token, (f"-XX:AOTCacheOutput={cache}",),
              2 * s.cold_start_timeout, stop_grace=120.0)
    return cache if os.path.exists(cache) else None


def _feature_version(java):
    match = re.search(r'version "(\d+)', _java_version(java))
    return int(match.group(1)) if match else 0


def _java_version(java="java"):
    out = subprocess.run([java, "-version"], capture_output=True, text=True)
    return (out.stderr or out.stdout).strip().splitlines()[0]


def main():
    import argparse
    import tempfile
    import shutil
    import settings as settings_module
    from processes import ProcessSet
    from targets import Launcher
    import json

    parser = argparse.ArgumentParser(description="Portcullis cold start to ready")
    parser.add_argument("--starts", type=int, default=None, help="starts per series (default COLD_STARTS)")
    parser.add_argument("--variants", action="store_true", help="also compare JVM options and count classes")
    args = parser.parse_args()
    bench_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    s = settings_module.from_environment(bench_dir)
    if args.starts is not None:
        s.cold_starts = args.starts
    keys_dir = os.path.join(bench_dir, ".cache", "tokens")
    if not os.path.exists(os.path.join(keys_dir, "token-rs256.txt")):
        raise SystemExit("no minted tokens in bench/.cache/tokens: run bench/run.sh once (VALIDATE_ONLY=1 is quick)")
    work = tempfile.mkdtemp(prefix="portcullis-coldstart-")
    os.makedirs(os.path.join(work, "configs"))
    processes = ProcessSet()
    try:
        launcher = Launcher(s, processes, work, os.path.join(work, "configs"), keys_dir)
        launcher.upstream_port, launcher.upstream_tls_port, _, _ = launcher.start_stub("stub-upstream", s.loadgen_cpus)
        result = measure(s, launcher, processes, keys_dir, args.variants,
                         log=lambda m: print(time.strftime("%H:%M:%S ") + m, file=sys.stderr, flush=True))
        print(json.dumps(result, indent=2))
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
