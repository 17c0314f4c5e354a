"""The load generators, and the CPU/RSS accounting around each measurement.

- throughput: wrk, closed loop, fixed connection count, as fast as the target answers;
- latency: the open-loop client (portcullis-bench.jar open-loop) at a fixed request rate,
  latency counted from each request's scheduled send time.
Both run pinned to the load-generator CPU; the target's process tree is sampled from /proc.
"""
import json
import os
import subprocess
import threading
import time

from processes import cpu_seconds, pinned, rss_kib


class ProcessMeter:
    """CPU seconds used by a process tree between start() and stop(), and its largest RSS meanwhile."""

    def __init__(self, pid):
        self.pid = pid
        self.max_rss_kib = 0
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self.cpu_start = cpu_seconds(self.pid) if self.pid else 0.0
        self.wall_start = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            if self.pid:
                self.max_rss_kib = max(self.max_rss_kib, rss_kib(self.pid))
            self._stop.wait(0.5)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.cpu = (cpu_seconds(self.pid) - self.cpu_start) if self.pid else 0.0
        self.wall = time.monotonic() - self.wall_start
        if self.pid:
            self.rss_kib = rss_kib(self.pid)
            self.max_rss_kib = max(self.max_rss_kib, self.rss_kib)
        else:
            self.rss_kib = 0
        return False

    def figures(self):
        return {"cpu_s": round(self.cpu, 3), "wall_s": round(self.wall, 3),
                "cpu_util": round(self.cpu / self.wall, 3) if self.wall else 0,
                "rss_kib": self.rss_kib, "max_rss_kib": self.max_rss_kib, "loadavg_1m": load_average()}


def load_average():
    """The machine's 1-minute load average: other work on the machine shows up here."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_wrk(settings, url, token_file, rotate, duration, log_path):
    """wrk with the MCP POST script; returns the script's summary (requests, errors, latency) and
    `rps`: requests/s over wrk's duration or, when the rotating script ran out of fresh tokens
    early, over the part of the run that had them."""
    script = os.path.join(settings.bench_dir, "lua", "mcp-post-rotate.lua" if rotate else "mcp-post.lua")
    env = dict(os.environ, BENCH_BODY_FILE=settings.body_file, BENCH_TOKEN_FILE=token_file,
               BENCH_WRK_THREADS=str(settings.wrk_threads))
    argv = pinned(settings.loadgen_cpus, ["wrk", "-t", str(settings.wrk_threads), "-c", str(settings.connections),
                                          "-d", f"{duration}s", "--timeout", "10s", "-s", script, url])
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 60)
    with open(log_path, "w") as f:
        f.write(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            summary = json.loads(line[len("BENCH_JSON "):])
            if summary.get("active_us"):
                summary["rps"] = summary["active_responses"] / (summary["active_us"] / 1e6)
            else:
                summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6) if summary["duration_us"] else 0
            summary["non_2xx"] = summary["errors"]["status"]
            return summary
    raise RuntimeError(f"wrk printed no summary (exit {done.returncode}): {(done.stderr or done.stdout)[-300:]}")


def warm_up(settings, url, token_file, log_path):
    """wrk in 5 s pieces until INITIAL_WARMUP_REQUESTS were answered or INITIAL_WARMUP seconds
    passed (wrk itself cannot stop on a count); returns (requests, seconds)."""
    requests, began = 0, time.monotonic()
    with open(log_path, "w"):
        pass
    while requests < settings.initial_warmup_requests:
        left = settings.initial_warmup - (time.monotonic() - began)
        if left < 1:
            break
        piece = run_wrk(settings, url, token_file, False, int(min(5, left)), log_path + ".part")
        with open(log_path + ".part") as part, open(log_path, "a") as log:
            log.write(part.read())
        requests += piece["requests"]
    if os.path.exists(log_path + ".part"):
        os.remove(log_path + ".part")
    return requests, time.monotonic() - began


def prioritised(settings, argv):
    """argv at CLIENT_NICE when that raises its priority and the harness may (root): the open-loop client then
    runs ahead of the stub upstream on their shared CPU, and its own lag stays ~0.15 ms at p99 instead of ms."""
    if settings.client_nice < 0 and os.geteuid() != 0:
        return list(argv)
    return ["nice", "-n", str(settings.client_nice), *argv] if settings.client_nice else list(argv)


def run_open_loop(settings, url, token_file, rate, duration, log_path, extra=()):
    """The open-loop client; returns its JSON (percentiles in microseconds, statuses)."""
    argv = prioritised(settings, pinned(settings.loadgen_cpus, [
        "java", *settings.client_java_opts.split(), "-jar", settings.tools_jar, "open-loop",
        "--url", url, "--rate", str(rate), "--duration", str(duration), "--warmup", str(settings.open_loop_warmup),
        "--connections", str(settings.open_loop_connections), "--body", settings.body_file, "--tokens", token_file,
        "--header", "MCP-Protocol-Version: 2025-11-25", *extra]))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + settings.open_loop_warmup + 90)
    with open(log_path, "w") as f:
        f.write(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"open-loop client printed no result (exit {done.returncode}): {done.stderr[-300:]}")


def run_sse_hold(settings, url, token_file, streams, hold, on_open, log_path):
    """Opens `streams` idle SSE streams; calls on_open(report) once they are up; returns both reports."""
    argv = pinned(settings.loadgen_cpus, [
        "java", *settings.client_java_opts.split(), "-jar", settings.tools_jar, "sse-hold",
        "--url", url, "--streams", str(streams), "--hold", str(hold), "--tokens", token_file,
        "--open-timeout", str(settings.sse_open_timeout)])
    reports = {}
    with open(log_path, "w") as log, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True) as client:
        try:
            for line in client.stdout:
                log.write(line)
                if line.startswith("{"):
                    report = json.loads(line)
                    reports[report["phase"]] = report
                    if report["phase"] == "open":
                        reports["sampled"] = on_open(report)
            client.wait(timeout=hold + 60)
        finally:
            if client.poll() is None:
                client.kill()
    return reports
