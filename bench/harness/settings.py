"""The run's knobs, read from the environment (bench/README.md lists them)."""
import math
import os
import time
from dataclasses import dataclass


def _env(name, default):
    return os.environ.get(name, str(default))


@dataclass
class Settings:
    bench_dir: str
    repo_dir: str
    results_dir: str
    rounds: int
    duration: int              # seconds of wrk per target and round (throughput)
    warmup: int                # seconds of wrk before each measurement (not recorded)
    initial_warmup: int        # at most this many seconds of wrk per target before round 1 (JIT warm-up)
    initial_warmup_requests: int  # ... or until this many requests were answered
    connections: int           # wrk connections
    wrk_threads: int
    rate: int                  # requests/s of the open-loop client (latency)
    rate_duration: int         # seconds measured at that rate
    open_loop_warmup: int      # seconds at that rate before measuring (client and target JIT)
    open_loop_connections: int
    many_tokens: int           # fresh tokens per round for the many-tokens throughput run
    targets: list
    sse_streams: int
    sse_hold: int
    sse_open_timeout: int
    sse_sample_every: int      # while the streams are held: RSS and heap after GC every this many seconds
    cold_starts: int           # gateway starts measured from spawn to /readyz (median reported)
    cold_start_timeout: int    # seconds one start may take
    jmh: bool
    jmh_args: str
    loadgen_cpus: str
    proxy_cpus: str
    store_cpus: str            # where the redis-server of portcullis-limits-redis runs (default: the load generator's)
    gateway_java_opts: str
    baseline_java_opts: str    # the baseline targets' JVM options ("": gateway_java_opts)
    gateway_java: str          # the java launcher of every Portcullis target (another JDK's bin/java)
    client_java_opts: str
    client_nice: int           # the open-loop client's niceness when the harness may raise priority (root)
    misconfigure: list         # targets started with a deliberately broken config (proves the validation gate)
    validate_only: bool        # stop after the validation gate
    baseline_jar: str          # BASELINE_REF's gateway jar (run.sh builds it), or "" for no baseline target
    baseline_ref: str          # the commit it was built from, as given

    @property
    def gateway_jar(self):
        return os.path.join(self.repo_dir, "gateway-app", "target", "portcullis.jar")

    @property
    def tools_jar(self):
        return os.path.join(self.bench_dir, "loadgen", "target", "portcullis-bench.jar")

    @property
    def jmh_jar(self):
        return os.path.join(self.bench_dir, "jmh", "target", "benchmarks.jar")

    @property
    def body_file(self):
        return os.path.join(self.bench_dir, "payload", "tools-call.json")

    @property
    def rate_tokens(self):
        """Fresh tokens one open-loop run of the many-tokens target sends."""
        return math.ceil(self.rate * (self.rate_duration + self.open_loop_warmup))

    WARM_TOKENS = 3000
    INITIAL_ROTATE_WARM_TOKENS = 20000  # before round 1, for a target that gets a new token per request

    def fresh_tokens_needed(self):
        from targets import CATALOGUE
        rotating = sum(1 for t in CATALOGUE if t.name in self.targets and t.tokens == "rotate")
        if not rotating:
            return 10
        return 10 + rotating * (self.WARM_TOKENS + self.INITIAL_ROTATE_WARM_TOKENS
                                + self.rounds * (self.many_tokens + self.rate_tokens))


# Knob (environment variable) → (Settings field, default). bench/README.md lists them.
KNOBS = {
    "ROUNDS": ("rounds", 3),
    "DURATION": ("duration", 10),
    "WARMUP": ("warmup", 3),
    "INITIAL_WARMUP": ("initial_warmup", 30),
    "INITIAL_WARMUP_REQUESTS": ("initial_warmup_requests", 30000),
    "CONNECTIONS": ("connections", 32),
    "WRK_THREADS": ("wrk_threads", 1),
    "RATE": ("rate", 1000),
    "RATE_DURATION": ("rate_duration", 10),
    "OPEN_LOOP_WARMUP": ("open_loop_warmup", 2),
    "OPEN_LOOP_CONNECTIONS": ("open_loop_connections", 16),
    "MANY_TOKENS": ("many_tokens", 5000),
    "SSE_STREAMS": ("sse_streams", 10000),
    "SSE_HOLD": ("sse_hold", 15),
    "SSE_OPEN_TIMEOUT": ("sse_open_timeout", 60),
    "SSE_SAMPLE_EVERY": ("sse_sample_every", 30),
    "COLD_STARTS": ("cold_starts", 5),
    "COLD_START_TIMEOUT": ("cold_start_timeout", 30),
    "JMH_ARGS": ("jmh_args", "-f 1 -wi 3 -i 5 -w 1s -r 1s"),
    "GATEWAY_JAVA_OPTS": ("gateway_java_opts", "-Xms256m -Xmx1g -Dportcullis.io-threads=1"),  # the target is pinned to one CPU
    # The baseline targets' JVM options ("": GATEWAY_JAVA_OPTS): BASELINE_REF=HEAD with other options A/Bs a JVM option.
    "BASELINE_JAVA_OPTS": ("baseline_java_opts", ""),
    "GATEWAY_JAVA": ("gateway_java", "java"),
    # C1 only: the client is a fresh JVM per run, and C2's compiler threads on the load generator's CPU put its own
    # lag at a p99 of 3-4 ms at 1,000 req/s (bench/RESULTS.md, 2026-12-06); C1 code is fast enough for 1,000 req/s.
    "CLIENT_JAVA_OPTS": ("client_java_opts", "-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"),
    # Ahead of the stub upstream on the shared CPU, so a request leaves at its send time (root only; 0: unchanged).
    "CLIENT_NICE": ("client_nice", -10),
}


def default_targets(baseline_jar):
    """Every target of the catalogue; the baseline ones only when a baseline jar was built (BASELINE_REF)."""
    from targets import CATALOGUE
    return [t.name for t in CATALOGUE if baseline_jar or not t.baseline]


def from_environment(bench_dir):
    repo_dir = os.path.dirname(bench_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    from targets import CATALOGUE
    all_targets = [t.name for t in CATALOGUE]
    baseline_jar = _env("BASELINE_JAR", "")
    chosen = [t.strip() for t in _env("TARGETS", ",".join(default_targets(baseline_jar))).split(",") if t.strip()]
    unknown = [t for t in chosen if t not in all_targets]
    if unknown:
        raise SystemExit(f"unknown TARGETS {unknown}; known: {', '.join(all_targets)}")
    if not baseline_jar and any(t.baseline for t in CATALOGUE if t.name in chosen):
        raise SystemExit("a baseline target needs BASELINE_REF=<commit> (bench/run.sh builds that commit's gateway)")
    from targets import MISCONFIGURABLE
    broken = [t.strip() for t in _env("MISCONFIGURE", "").split(",") if t.strip()]
    if any(t not in MISCONFIGURABLE for t in broken):
        raise SystemExit(f"MISCONFIGURE takes {', '.join(MISCONFIGURABLE)}; got {broken}")
    cpus = os.cpu_count() or 1
    knobs = {field: type(default)(_env(name, default)) for name, (field, default) in KNOBS.items()}
    return Settings(
        bench_dir=bench_dir,
        repo_dir=repo_dir,
        results_dir=os.path.abspath(_env("RESULTS_DIR", os.path.join(bench_dir, "results", stamp))),
        targets=chosen,
        jmh=_env("JMH", "1") == "1",
        misconfigure=broken,
        validate_only=_env("VALIDATE_ONLY", "0") == "1",
        baseline_jar=baseline_jar,
        baseline_ref=_env("BASELINE_REF", ""),
        loadgen_cpus=_env("LOADGEN_CPUS", "0" if cpus > 1 else ""),
        proxy_cpus=_env("PROXY_CPUS", str(cpus - 1) if cpus > 1 else ""),
        store_cpus=_env("STORE_CPUS", _env("LOADGEN_CPUS", "0" if cpus > 1 else "")),
        **knobs,
    )


def command_line(s):
    """The command that reproduces this run: bench/run.sh with the knobs that differ from the defaults."""
    changed = [f"{name}={getattr(s, field)}" if " " not in str(getattr(s, field)) else f'{name}="{getattr(s, field)}"'
               for name, (field, default) in KNOBS.items() if getattr(s, field) != default]
    if s.baseline_ref:
        changed.append("BASELINE_REF=" + s.baseline_ref)
    if s.targets != default_targets(s.baseline_jar):
        changed.append("TARGETS=" + ",".join(s.targets))
    if not s.jmh:
        changed.append("JMH=0")
    if s.misconfigure:
        changed.append("MISCONFIGURE=" + ",".join(s.misconfigure))
    if s.store_cpus != s.loadgen_cpus:
        changed.append("STORE_CPUS=" + s.store_cpus)
    return " ".join(changed + ["bench/run.sh"])
