"""bench/run.sh's orchestrator: start everything, measure every target in interleaved rounds,
run the idle-SSE resource benchmark and the JMH microbenchmarks, write the results directory.

Run through bench/run.sh (which builds the jars and raises the file limit); knobs in settings.py.
"""
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import report
import settings as settings_module
from load import ProcessMeter, run_open_loop, run_sse_hold, run_wrk, warm_up
from processes import ProcessSet, rss_kib
from targets import CATALOGUE, ISSUER, RESOURCE, Launcher, jvm_heap, smoke_request

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(message):
    print(time.strftime("%H:%M:%S ") + message, file=sys.stderr, flush=True)


# --- keys and tokens -------------------------------------------------------------------------------

def prepare_tokens(s, at_least=0):
    """Keys and tokens, minted once and kept in bench/.cache while they stay valid for hours
    (RSA signing makes minting tens of thousands of tokens take a minute)."""
    cache = os.path.join(s.bench_dir, ".cache", "tokens")
    meta_path = os.path.join(cache, "meta.json")
    needed = max(s.fresh_tokens_needed(), at_least)
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        if (meta["issuer"] == ISSUER and meta["audience"] == RESOURCE and meta["tokens"] >= needed
                and meta["expires_at"] - time.time() > 3 * 3600
                and all(os.path.exists(os.path.join(cache, f)) for f in VALIDATION_FILES)):
            log(f"tokens: reusing {meta['tokens']} cached tokens ({needed} needed)")
            if not os.path.exists(os.path.join(cache, "stub-tls.crt")):
                make_tls_certificate(cache)
            return cache
    except (OSError, ValueError, KeyError):
        pass
    shutil.rmtree(cache, ignore_errors=True)
    log(f"tokens: minting {needed} RS256 tokens (RSA and EC keys, JWKS) ...")
    lifetime_minutes = 23 * 60  # under the gateway's default max-token-lifetime (24h)
    done = subprocess.run(["java", "-jar", s.tools_jar, "mint", "--out", cache, "--issuer", ISSUER,
                           "--audience", RESOURCE, "--tokens", str(needed),
                           "--lifetime-minutes", str(lifetime_minutes)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit("minting tokens failed: " + done.stderr[-500:])
    log("tokens: " + done.stdout.strip())
    make_tls_certificate(cache)
    with open(meta_path, "w") as f:
        json.dump({"issuer": ISSUER, "audience": RESOURCE, "tokens": needed,
                   "expires_at": time.time() + lifetime_minutes * 60 - 300}, f)
    return cache


def make_tls_certificate(keys_dir):
    """A self-signed certificate for the stub's https JWKS (mod_auth_openidc fetches only https)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=127.0.0.1",
                    "-keyout", os.path.join(keys_dir, "stub-tls.key"), "-out", os.path.join(keys_dir, "stub-tls.crt")],
                   check=True, capture_output=True)


class FreshTokens:
    """Hands out disjoint slices of the token pool, so no token is sent twice in a run."""

    def __init__(self, keys_dir, work_dir):
        with open(os.path.join(keys_dir, "tokens-rs256.txt")) as f:
            self.tokens = [line.strip() for line in f if line.strip()]
        self.next = 0
        self.work = work_dir

    def slice_file(self, count, label):
        chosen = self.tokens[self.next:self.next + count]
        if len(chosen) < count:
            raise RuntimeError(f"token pool exhausted ({len(self.tokens)} tokens)")
        self.next += count
        path = os.path.join(self.work, f"tokens-{label}.txt")
        with open(path, "w") as f:
            f.write("\n".join(chosen) + "\n")
        return path


# --- the run ---------------------------------------------------------------------------------------

def machine_description(s):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024

    def version(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "not installed"

    openidc = version(["dpkg-query", "-W", "-f", "${Version}", "libapache2-mod-auth-openidc"])
    def strip(text, prefix):
        return text.split(prefix, 1)[-1].strip()

    return {
        "cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(), "os": _os_name(),
        "java": version([s.gateway_java, "-version"]),
        "nginx": strip(version(["nginx", "-v"]), "version:"), "apache": strip(version(["apache2", "-v"]), "version:"),
        "mod_auth_openidc": openidc, "haproxy": version(["haproxy", "-v"]), "wrk": version(["wrk", "-v"]),
        "loadgen_cpus": s.loadgen_cpus or "unpinned", "proxy_cpus": s.proxy_cpus or "unpinned",
    }


def _os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


# The validation gate: what every authenticating target must refuse before it is measured. Each case:
# (name, token file in the keys directory, whether only targets that check scopes are asked).
VALIDATION_CASES = [
    ("bad signature", "token-bad-signature.txt", False),
    ("expired", "token-expired.txt", False),
    ("wrong audience", "token-wrong-audience.txt", False),
    ("missing scope", "token-no-scope.txt", True),
]
VALIDATION_FILES = [case[1] for case in VALIDATION_CASES]


def _accepted(t, status, text):
    """The request went through: 200 with the stub's result (a JSON-RPC result, or its SSE event)."""
    expected = "event: message" if t.name == "portcullis-sse" else '"result"'
    return status == 200 and expected in text


def _refused(status, text):
    """A proper refusal: 401/403 (or another 4xx), or a JSON-RPC error instead of the result (how a
    policy can deny a tools/call: HTTP 200 with an error object)."""
    if 400 <= status < 500:
        return True
    return status == 200 and '"error"' in text and '"result"' not in text


def validate_targets(s, targets, keys_dir, fresh):
    """Before anything is measured: every authenticating target must refuse a token with a bad
    signature, an expired token, a token for another audience, and (where the target checks scopes:
    the policy mode) a token without the called tool's scope; and every target must answer one valid
    request with the stub's result. A target that fails is not measured: the report says
    "failed validation: <which>" instead of its figures."""
    with open(s.body_file, "rb") as f:
        body = f.read()

    def token(filename):
        with open(os.path.join(keys_dir, filename)) as f:
            return f.read().strip()

    for t in targets:
        if t.skipped:
            continue
        failures = []
        for case, filename, scope_only in VALIDATION_CASES:
            if not t.authenticates:
                t.validation[case] = "n/a (no authentication)"
                continue
            if scope_only and not t.checks_scope:
                t.validation[case] = "n/a (no scope check)"
                continue
            status, text = smoke_request(t.url, body, token(filename))
            if _refused(status, text):
                t.validation[case] = f"refused ({status}{' JSON-RPC error' if status == 200 else ''})"
            else:
                what = "ACCEPTED" if _accepted(t, status, text) else "not refused"
                t.validation[case] = f"{what} ({status}: {text[:80]!r})"
                failures.append(case)
        # The valid request last: a target that refuses everything must not pass.
        use = token("token-rs256.txt")
        if t.tokens == "rotate":
            with open(fresh.slice_file(1, f"{t.name}-check")) as f:
                use = f.read().strip()
        status, text = smoke_request(t.url, body, use)
        if _accepted(t, status, text):
            t.validation["valid"] = f"accepted ({status})"
        else:
            t.validation["valid"] = f"not accepted ({status}: {text[:80]!r})"
            failures.append("valid request refused")
        if failures:
            t.failed_validation = ", ".join(failures)
        log(f"validate {t.name}: " + ("ok" if not failures else "FAILED: " + t.failed_validation)
            + (f" [misconfigured on purpose: {t.misconfigured}]" if t.misconfigured else "") + "; "
            + "; ".join(f"{k}: {v}" for k, v in t.validation.items()))


def measure_round(s, round_no, targets, keys_dir, fresh, raw_dir):
    single = os.path.join(keys_dir, "token-rs256.txt")
    live = [t for t in targets if not t.skipped and not t.failed_validation]
    shift = round_no % len(live) if live else 0
    results = {}
    for t in live[shift:] + live[:shift]:  # a different order each round: no target always goes first
        rotate = t.tokens == "rotate"
        stem = os.path.join(raw_dir, f"round{round_no + 1}-{t.name}")
        if round_no == 0 and s.initial_warmup > 0:
            # The JVM targets run interpreted code for their first thousands of requests: warm every
            # target up once, by request count (what JIT thresholds count), bounded in time, before
            # anything is recorded (the single token: the common path).
            requests, seconds = warm_up(s, t.url, single, stem + "-initial-warmup.txt")
            log(f"round 1/{s.rounds} {t.name}: initial warm-up: {requests:,} requests in {seconds:.0f}s")
            if rotate:
                # The never-seen path (parsing, the signature check, the verified-token cache's inserts) is code
                # the one-token warm-up never runs: without this, round 1 measured the JIT compiling it.
                tokens = fresh.slice_file(s.INITIAL_ROTATE_WARM_TOKENS, f"{t.name}-initial-warm")
                done = run_wrk(s, t.url, tokens, True, max(5, s.INITIAL_ROTATE_WARM_TOKENS // 3000 + 2),
                               stem + "-initial-warmup-rotate.txt")
                log(f"round 1/{s.rounds} {t.name}: then {done.get('responses', done.get('requests', 0)):,} requests "
                    f"with a new token each")
        log(f"round {round_no + 1}/{s.rounds} {t.name}: warm-up {s.warmup}s, throughput {s.duration}s, "
            f"{s.rate} req/s for {s.rate_duration}s")
        warm_tokens = (fresh.slice_file(s.WARM_TOKENS // max(1, s.rounds), f"{t.name}-warm-{round_no}")
                       if rotate else single)
        run_wrk(s, t.url, warm_tokens, rotate, s.warmup, stem + "-warmup.txt")

        tp_tokens = fresh.slice_file(s.many_tokens, f"{t.name}-tp-{round_no}") if rotate else single
        with ProcessMeter(t.pid) as meter:
            throughput = run_wrk(s, t.url, tp_tokens, rotate, s.duration, stem + "-wrk.txt")
        throughput["process"] = meter.figures()

        rate_tokens = fresh.slice_file(s.rate_tokens, f"{t.name}-rate-{round_no}") if rotate else single
        with ProcessMeter(t.pid) as meter:
            latency = run_open_loop(s, t.url, rate_tokens, s.rate, s.rate_duration, stem + "-open-loop.txt")
        latency["process"] = meter.figures()
        results[t.name] = {"throughput": throughput, "latency": latency}
        with open(stem + ".json", "w") as f:
            json.dump(results[t.name], f, indent=2)
        log(f"  {t.name}: {throughput['rps']:.0f} req/s (non-2xx {throughput['non_2xx']}), "
            f"p50 {latency['p50_us']:.0f} µs p99 {latency['p99_us']:.0f} µs p99.9 {latency['p999_us']:.0f} µs "
            f"(non-200 {latency['non_200']})")
    return results


def idle_sse_benchmark(s, launcher, keys_dir, raw_dir, echo_available):
    """N idle SSE streams through a fresh gateway: memory before and at steady state."""
    if s.sse_streams <= 0:
        return {"skipped": "SSE_STREAMS=0"}
    if not echo_available:
        return {"skipped": "nginx echo module not installed (Debian: libnginx-mod-http-echo): no idle upstream stream"}
    streams, note = s.sse_streams, ""
    # The gateway holds two sockets per stream (client and upstream side); leave room for the rest.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if 2 * streams + 300 > limit:
        streams = (limit - 300) // 2
        note = (f"{s.sse_streams:,} requested, capped at {streams:,}: the open-file limit here is {limit:,} "
                f"and cannot be raised (the gateway needs two descriptors per stream)")
        log("idle SSE: " + note)
    log(f"idle SSE: {streams} streams through a fresh gateway, held {s.sse_hold}s"
        + (f", sampled every {s.sse_sample_every}s" if s.sse_hold > s.sse_sample_every > 0 else ""))
    port, _, pid = launcher.start_portcullis("portcullis-sse-idle", "portcullis-auth.yaml", "/mcp-idle", s.proxy_cpus)
    time.sleep(2)
    before = {"rss_mib": round(rss_kib(pid) / 1024, 1), "heap_mib_after_gc": jvm_heap(pid)}

    def sample(since):
        return {"t_s": round(time.monotonic() - since), "rss_mib": round(rss_kib(pid) / 1024, 1),
                "heap_mib_after_gc": jvm_heap(pid)}

    samples, stop_sampling, sampler = [], threading.Event(), []

    def sample_while_held(since):
        # The soak: RSS and heap after a full GC every SSE_SAMPLE_EVERY seconds (counted from all streams
        # open, as the hold is), and once more just before the hold ends.
        due = list(range(s.sse_sample_every, s.sse_hold - 1, s.sse_sample_every))
        if not due or due[-1] < s.sse_hold - 5:
            due.append(s.sse_hold - 2)
        for at in due:
            if stop_sampling.wait(max(0.0, since + at - time.monotonic())):
                return
            samples.append(sample(since))
            log(f"idle SSE: at {samples[-1]['t_s']}s: RSS {samples[-1]['rss_mib']} MiB, "
                f"heap after GC {samples[-1]['heap_mib_after_gc']} MiB")

    def at_steady_state(report_open):
        since = time.monotonic()
        time.sleep(3)
        samples.append(sample(since))
        if s.sse_hold > s.sse_sample_every > 0:
            sampler.append(threading.Thread(target=sample_while_held, args=(since,), daemon=True))
            sampler[0].start()
        return samples[0]

    token = os.path.join(keys_dir, "token-rs256.txt")
    try:
        reports = run_sse_hold(s, f"http://127.0.0.1:{port}/mcp", token, streams, s.sse_hold, at_steady_state,
                               os.path.join(raw_dir, "sse-idle-client.txt"))
    finally:
        stop_sampling.set()
        for thread in sampler:
            thread.join(timeout=150)  # a sample in progress (jcmd GC.run, GC.heap_info) finishes first
    result = {"streams": streams, "requested": s.sse_streams, "note": note, "hold_s": s.sse_hold, "before": before,
              "open": reports.get("open"), "with_streams": reports.get("sampled"), "done": reports.get("done"),
              "samples": samples, "sample_every_s": s.sse_sample_every, "growth": _growth(samples)}
    gateway_log = os.path.join(launcher.work, "portcullis-sse-idle", "gateway.log")
    result["gateway_errors"] = _error_lines(gateway_log, 5)
    with open(os.path.join(raw_dir, "sse-idle.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


def _growth(samples):
    """RSS and heap-after-GC change from the first sample (streams just open) to the last."""
    if len(samples) < 2:
        return None
    first, last = samples[0], samples[-1]
    minutes = (last["t_s"] - first["t_s"]) / 60 or None
    growth = {"over_s": last["t_s"] - first["t_s"], "rss_mib": round(last["rss_mib"] - first["rss_mib"], 1)}
    if first["heap_mib_after_gc"] is not None and last["heap_mib_after_gc"] is not None:
        growth["heap_mib_after_gc"] = round(last["heap_mib_after_gc"] - first["heap_mib_after_gc"], 1)
    if minutes:
        growth["rss_mib_per_min"] = round(growth["rss_mib"] / minutes, 2)
        if "heap_mib_after_gc" in growth:
            growth["heap_mib_after_gc_per_min"] = round(growth["heap_mib_after_gc"] / minutes, 2)
    if len(samples) >= 3:
        # The first interval includes the heap's young generation being touched for the first time (RSS
        # grows once, up to -Xms); a leak keeps growing after it.
        growth["after_first_interval"] = _growth(samples[1:])
    return growth


def _error_lines(path, limit):
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if " ERROR " in line or " WARN " in line]
    except OSError:
        return []
    return [line[:300] for line in lines[:limit]]


def run_cold_start(s, launcher, processes, keys_dir, raw_dir):
    """COLD_STARTS fresh gateways, each timed from spawn to /readyz 200 and to the first proxied 200."""
    if s.cold_starts <= 0:
        return {"skipped": "COLD_STARTS=0"}
    import coldstart
    log(f"cold start: {s.cold_starts} gateway starts (spawn → /readyz 200 → first proxied 200)")
    try:
        result = coldstart.measure(s, launcher, processes, keys_dir, log=log)
    except Exception as e:  # recorded, not fatal
        return {"skipped": f"cold start failed: {e}"}
    with open(os.path.join(raw_dir, "cold-start.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


def run_jmh(s, raw_dir):
    if not s.jmh:
        return {"skipped": "JMH=0"}
    out = os.path.join(raw_dir, "jmh.json")
    log(f"JMH: {s.jmh_args} (pinned to CPU {s.proxy_cpus or 'any'})")
    from processes import pinned
    argv = pinned(s.proxy_cpus, ["java", "-jar", s.jmh_jar, *s.jmh_args.split(), "-rf", "json", "-rff", out])
    with open(os.path.join(raw_dir, "jmh.txt"), "w") as f:
        done = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, timeout=1800)
    if done.returncode != 0:
        return {"skipped": f"JMH exited {done.returncode} (see raw/jmh.txt)"}
    with open(out) as f:
        return {"results": json.load(f)}


def main():
    s = settings_module.from_environment(BENCH_DIR)
    for jar in (s.gateway_jar, s.tools_jar) + ((s.jmh_jar,) if s.jmh else ()):
        if not os.path.exists(jar):
            raise SystemExit(f"missing {os.path.relpath(jar, s.repo_dir)}: build first (bench/run.sh does)")
    raw_dir = os.path.join(s.results_dir, "raw")
    configs_dir = os.path.join(s.results_dir, "configs")
    os.makedirs(raw_dir, exist_ok=True)
    os.makedirs(configs_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="portcullis-bench-")
    os.chmod(work, 0o755)
    processes = ProcessSet()

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop_on_signal)
    started_at = time.time()
    try:
        machine = machine_description(s)
        keys_dir = prepare_tokens(s)
        fresh = FreshTokens(keys_dir, work)
        launcher = Launcher(s, processes, work, configs_dir, keys_dir)
        launcher.upstream_port, launcher.upstream_tls_port, _, echo_available = launcher.start_stub(
            "stub-upstream", s.loadgen_cpus)
        log(f"stub upstream on 127.0.0.1:{launcher.upstream_port} (CPU {s.loadgen_cpus or 'any'})")

        targets = [t for t in CATALOGUE if t.name in s.targets]
        for t in targets:
            launcher.start(t)
            log(f"target {t.name}: " + (f"skipped: {t.skipped}" if t.skipped else f"127.0.0.1:{t.port} pid {t.pid}"))
        validate_targets(s, targets, keys_dir, fresh)
        if s.validate_only:
            print("\n".join(report.validation_markdown(
                [{"name": t.name, "validation": t.validation, "failed_validation": t.failed_validation,
                  "misconfigured": t.misconfigured} for t in targets])))
            return

        rounds = []
        for r in range(s.rounds):
            rounds.append(measure_round(s, r, targets, keys_dir, fresh, raw_dir))

        idle_sse = idle_sse_benchmark(s, launcher, keys_dir, raw_dir, echo_available)
        cold_start = run_cold_start(s, launcher, processes, keys_dir, raw_dir)
        for entry in list(processes.started):  # free the proxy CPU before JMH
            processes.stop(entry)
        jmh = run_jmh(s, raw_dir)

        results = {
            "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started_at)),
            "runtime_s": round(time.time() - started_at),
            "command": settings_module.command_line(s),
            "machine": machine,
            "settings": {k: v for k, v in vars(s).items() if k not in ("bench_dir", "repo_dir", "results_dir")},
            "targets": [{"name": t.name, "description": t.description, "skipped": t.skipped, "tokens": t.tokens,
                         "validation": t.validation, "failed_validation": t.failed_validation,
                         "misconfigured": t.misconfigured} for t in targets],
            "rounds": rounds,
            "idle_sse": idle_sse,
            "cold_start": cold_start,
            "jmh": jmh,
        }
        results["summary"] = report.summarise(results)
        with open(os.path.join(s.results_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        markdown, chart = report.write(results, s.results_dir)
        print(markdown)
        print(f"Results: {os.path.relpath(s.results_dir, s.repo_dir)}/  (summary.md, results.json, raw/, configs/)")
        print(f"Chart:   {os.path.relpath(chart, s.repo_dir)}")
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as interrupted:
        log(f"interrupted ({interrupted or 'Ctrl-C'}); every process the run started has been stopped")
        sys.exit(130)
