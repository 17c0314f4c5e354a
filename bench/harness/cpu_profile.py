"""bench/profile.sh: where one target's CPU per request goes.

Starts the stub upstream and one Portcullis target exactly as bench/run.sh does (same configs, same
pinning), warms it up, then runs wrk for PROFILE_SECONDS while `perf record` samples the target's
process (kernel and user stacks; the JVM writes its JIT symbol map with `jcmd <pid> Compiler.perfmap`
so compiled Java frames have names). The CPU time the process used in that window divided by the
requests wrk completed is the CPU per request; the samples split it by where they fell (self time):
kernel, Netty, the gateway's own code, Jackson, Nimbus/crypto, logging, metrics, the JVM itself (GC,
JIT, runtime), and the rest of the JDK; /proc/PID/task splits the same window's CPU by thread. Writes
profile.md (the tables plus the top symbols) and the raw perf report into bench/results/profile-<stamp>/. Every process it starts is stopped, by PID.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import settings as settings_module
from bench import BENCH_DIR, FreshTokens, log, prepare_tokens
from load import ProcessMeter, run_wrk, warm_up
from processes import ProcessSet, thread_seconds
from targets import CATALOGUE, Launcher

# Checked in order: the first matching pattern names a sample's category.
CATEGORIES = [
    ("kernel (syscalls, TCP loopback, epoll, scheduler)", re.compile(r"\[k\]|\[kernel")),
    ("Netty (codec, pipeline, buffers, event loop)", re.compile(r"io[./]netty")),
    ("gateway code (dev.portcullis)", re.compile(r"dev[./]portcullis")),
    ("Jackson (JSON)", re.compile(r"jackson")),
    ("Nimbus JOSE / crypto", re.compile(r"nimbus|amazon|corretto|sun[./]security|javax[./]crypto|libcrypto")),
    ("logging (Logback, SLF4J)", re.compile(r"logback|slf4j")),
    ("metrics, tracing (Micrometer, OpenTelemetry)", re.compile(r"micrometer|opentelemetry|HdrHistogram", re.I)),
    ("caches (Caffeine)", re.compile(r"caffeine")),
    ("JVM (GC, JIT compiler, runtime, interpreter)", re.compile(r"libjvm|Interpreter|\[unknown\]|StubRoutines|vtable|itable")),
    ("libc (the system-call wrappers)", re.compile(r"libc\.so|\[vdso\]")),
    ("JDK classes and the rest", re.compile(r".")),
]


def categorise(report_text):
    """perf report --stdio --no-children --sort dso,sym lines → {category: percent}, [(percent, symbol)]."""
    shares, top = {name: 0.0 for name, _ in CATEGORIES}, []
    for line in report_text.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.+?)\s+(\[[.k]\])\s+(.*)$", line)
        if not m:
            continue
        percent, dso, kind, symbol = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        text = f"{kind} {dso} {symbol}"
        for name, pattern in CATEGORIES:
            if pattern.search(text):
                shares[name] += percent
                break
        top.append((percent, f"{symbol}  ({dso})"))
    return shares, top


def thread_split(before, after, answered):
    """[(thread name, user µs/req, system µs/req)] for the threads that used at least 0.05 µs per request, busiest first."""
    rows = []
    if not answered:
        return rows
    for name, (user, system) in after.items():
        user0, system0 = before.get(name, (0.0, 0.0))
        u, k = (user - user0) * 1e6 / answered, (system - system0) * 1e6 / answered
        if u + k >= 0.05:
            rows.append((name, u, k))
    return sorted(rows, key=lambda row: -(row[1] + row[2]))


def main():
    s = settings_module.from_environment(BENCH_DIR)
    target_name = os.environ.get("PROFILE_TARGET", "portcullis-full")
    seconds = int(os.environ.get("PROFILE_SECONDS", "15"))
    target = next(t for t in CATALOGUE if t.name == target_name)
    out = os.path.abspath(os.environ.get("RESULTS_DIR", os.path.join(BENCH_DIR, "results",
                                                                    "profile-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()))))
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="portcullis-profile-")
    os.chmod(work, 0o755)
    processes = ProcessSet()
    try:
        rotate = target.tokens == "rotate"
        # A target that gets a new token per request needs one per request of the warm-up and of the profile: with
        # fewer, wrk runs out in the first second and the window measures an idle process and the JIT (issue 13,
        # 2026-12-06: 229 µs per request reported for 5,000 tokens in a 10 s window, 112 µs with enough).
        warm_count = int(os.environ.get("PROFILE_ROTATE_WARMUP_TOKENS", str(max(2 * s.many_tokens, 60_000))))
        profile_count = max(s.many_tokens, seconds * 15_000)
        keys = prepare_tokens(s, 10 + warm_count + profile_count if rotate else 0)
        fresh = FreshTokens(keys, work)
        launcher = Launcher(s, processes, work, out, keys)
        launcher.upstream_port, launcher.upstream_tls_port, _, _ = launcher.start_stub("stub-upstream", s.loadgen_cpus)
        launcher.start(target)
        if target.skipped:
            raise SystemExit(f"{target.name}: {target.skipped}")
        single = os.path.join(keys, "token-rs256.txt")
        requests, took = warm_up(s, target.url, single, os.path.join(out, "warmup.txt"))
        log(f"{target.name}: warmed up with {requests:,} requests in {took:.0f}s")
        if rotate:
            # A target that sees a new token on every request runs code a one-token warm-up never reaches
            # (parsing, the signature check, the cache's inserts and evictions): warm that up too, with
            # tokens of its own, or the profile is the JIT compiling it.
            warm = fresh.slice_file(warm_count, "profile-warm")
            r = run_wrk(s, target.url, warm, True, max(5, warm_count // 3000 + 2), os.path.join(out, "warmup-rotate.txt"))
            log(f"{target.name}: then {r.get('responses', r.get('requests', 0)):,} requests with a new token each")
        log(f"{target.name}: profiling {seconds}s")
        tokens = fresh.slice_file(profile_count, "profile") if rotate else single
        perf_data = os.path.join(out, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-F", "1999", "-g", "-o", perf_data, "-p", str(target.pid),
                                 "--", "sleep", str(seconds + 1)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        threads_before = thread_seconds(target.pid)
        with ProcessMeter(target.pid) as meter:
            result = run_wrk(s, target.url, tokens, rotate, seconds, os.path.join(out, "wrk.txt"))
        threads_after = thread_seconds(target.pid)
        perf_err = perf.communicate(timeout=seconds + 60)[1].decode(errors="replace")
        subprocess.run(["jcmd", str(target.pid), "Compiler.perfmap"], capture_output=True, timeout=60)
        # Which tier each method ran at (a hot method left at C1, tier 3, runs several times slower than at C2).
        with open(os.path.join(out, "codelist.txt"), "w") as f:
            subprocess.run(["jcmd", str(target.pid), "Compiler.codelist"], stdout=f, stderr=subprocess.DEVNULL, timeout=60)
        report = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children", "-g", "none",
                                 "--sort", "dso,sym", "--percent-limit", "0.05"],
                                capture_output=True, text=True, timeout=300)
        with open(os.path.join(out, "perf-report.txt"), "w") as f:
            f.write(report.stdout)
        answered = result.get("requests") or result.get("responses") or 0
        cpu_us = meter.cpu * 1e6 / answered if answered else float("nan")
        shares, top = categorise(report.stdout)
        total = sum(shares.values()) or 1.0
        lines = [f"### Profile: {target.name}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
                 f"Command: `{'PROFILE_TARGET=' + target.name + ' ' if target.name != 'portcullis-full' else ''}"
                 f"PROFILE_SECONDS={seconds} bench/profile.sh`. wrk, {s.connections} connections, {seconds} s after "
                 f"warm-up; the target pinned to CPU {s.proxy_cpus or 'any'}; `perf record -F 1999 -g` on its process, "
                 f"JIT symbols from `jcmd Compiler.perfmap`. Self time per sample.", "",
                 f"{result.get('rps', 0):,.0f} req/s; **{cpu_us:.1f} µs of CPU per request** "
                 f"({meter.cpu:.2f} s of CPU for {answered:,} requests; non-2xx {result.get('non_2xx', '?')}).", "",
                 "| where | share | µs/req |", "|---|--:|--:|"]
        for name, percent in sorted(shares.items(), key=lambda kv: -kv[1]):
            if percent > 0:
                lines.append(f"| {name} | {100 * percent / total:.1f}% | {cpu_us * percent / total:.1f} |")
        lines += ["", "By thread (/proc/PID/task; the event loop answers requests, the writers encode and write the audit "
                  "trail and the log, `VM Thread` is the collector's pauses):", "",
                  "| thread | user µs/req | system µs/req |", "|---|--:|--:|"]
        for name, user, system in thread_split(threads_before, threads_after, answered):
            lines.append(f"| {name} | {user:.1f} | {system:.1f} |")
        lines += ["", "Top symbols (self):", "", "| share | symbol |", "|--:|---|"]
        for percent, symbol in sorted(top, key=lambda t: -t[0])[:25]:
            lines.append(f"| {100 * percent / total:.1f}% | `{symbol[:110]}` |")
        if "WARNING" in perf_err or "error" in perf_err.lower():
            lines += ["", "perf said: " + perf_err.strip().splitlines()[-1][:200]]
        text = "\n".join(lines) + "\n"
        with open(os.path.join(out, "profile.md"), "w") as f:
            f.write(text)
        print(text)
        print(f"Results: {os.path.relpath(out, s.repo_dir)}/  (profile.md, perf-report.txt, perf.data, wrk.txt)")
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
