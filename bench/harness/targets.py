"""What is measured: the stub upstream, the peers and the Portcullis modes.

Each target is started once per run from a template in bench/conf (placeholders @@NAME@@), pinned
to the proxy CPU, and measured in every round. A target that cannot start (a missing package, a
config the gateway refuses) is recorded as skipped with the reason, and the run goes on.
"""
import glob
import json
import os
import pwd
import grp
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

from processes import free_port, wait_for_port

# Targets MISCONFIGURE can break on purpose (bench.py's validation gate must then refuse to measure them).
MISCONFIGURABLE = ("haproxy-jwt", "apache-oidc", "portcullis-policy")

ISSUER = "https://idp.bench.example"
RESOURCE = "https://mcp.bench.example/mcp"
CLIENT_SECRET = "bench-client-secret-not-a-secret"


@dataclass
class Target:
    name: str
    description: str
    tokens: str = "single"        # "single": one RS256 token; "rotate": a fresh token per request
    port: int = 0
    pid: int = 0
    skipped: str = ""             # why it was not measured
    notes: list = field(default_factory=list)
    authenticates: bool = True    # checks the bearer token (signature, exp, aud): validated before measuring
    checks_scope: bool = False    # also refuses a token lacking the called tool's scope (a policy)
    validation: dict = field(default_factory=dict)  # validation case → what the target answered
    failed_validation: str = ""   # the validation cases it failed: not measured
    misconfigured: str = ""       # MISCONFIGURE: what was deliberately broken in its config
    baseline: bool = False        # runs the BASELINE_REF build (only when run.sh built one)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/mcp"


# Order of the tables and chart; the run measures them in a rotated order each round.
CATALOGUE = [
    Target("stub", "nginx stub upstream called directly: the floor", authenticates=False),
    Target("nginx", "nginx proxy_pass, upstream keep-alive, no authentication", authenticates=False),
    Target("apache-oidc", "Apache httpd + mod_auth_openidc: JWT (RS256) checked against the JWKS, then mod_proxy"),
    Target("haproxy-jwt", "HAProxy jwt_verify (RS256, PEM key) + iss/aud/exp checks"),
    # Issue 13's peer for a never-seen token: HAProxy checks every signature anyway, but the client that sends a new
    # token per request (a Lua request() per call) costs the proxy more than one prebuilt request: this peer pays it too.
    Target("haproxy-jwt-many-tokens", "haproxy-jwt sent a new token on every request (the same client as "
           "portcullis-many-tokens)", tokens="rotate"),
    # Issue 13's reference point: the same JVM and options as the gateway, the plainest Netty proxy, no gateway logic.
    Target("netty-proxy", "plain Netty reverse proxy in the gateway's JVM, no gateway logic (bench/loadgen NettyProxy)",
           authenticates=False),
    Target("portcullis", "Portcullis: authentication (principal cache hit), inspection, forward"),
    Target("portcullis-policy", "Portcullis + per-tool policy file", checks_scope=True),
    Target("portcullis-exchange", "Portcullis + RFC 8693 token exchange (cached)"),
    Target("portcullis-full", "Portcullis full path: principal cache hit + per-tool policy + cached token exchange",
           checks_scope=True),
    Target("portcullis-many-tokens", "Portcullis, a new token on every request: RS256 signature checked each time",
           tokens="rotate"),
    Target("portcullis-sse", "Portcullis, upstream answers text/event-stream"),
    # Issue 18: the full path with limits counted (never reached), in process or in a real redis-server.
    Target("portcullis-limits", "portcullis-full + policy limits counted in process (issue 18)", checks_scope=True),
    Target("portcullis-limits-redis", "portcullis-full + policy limits counted in redis-server (issue 18)",
           checks_scope=True),
    Target("portcullis-limits-reserve", "portcullis-limits-redis with store.reserve: 1% (a round trip per reserve)",
           checks_scope=True),
    # BASELINE_REF=<commit>: the same full path on an earlier build (before/after in one run).
    Target("baseline-full", "portcullis-full on the build at BASELINE_REF (before)", checks_scope=True, baseline=True),
    Target("baseline-many-tokens", "portcullis-many-tokens on the build at BASELINE_REF (before)", tokens="rotate",
           baseline=True),
]


def render(template_path, out_path, values):
    with open(template_path) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", str(value))
    if "@@" in text:
        raise ValueError(f"{template_path}: unreplaced placeholder near {text[text.index('@@'):][:40]!r}")
    with open(out_path, "w") as f:
        f.write(text)
    return out_path


def result_json(payload_dir):
    with open(os.path.join(payload_dir, "tools-call-result.json")) as f:
        return f.read().strip()


def echo_module():
    """nginx's echo module (Debian: libnginx-mod-http-echo), needed for the idle SSE upstream."""
    found = glob.glob("/usr/lib/nginx/modules/ngx_http_echo_module.so") or \
        glob.glob("/usr/share/nginx/modules/ngx_http_echo_module.so")
    return found[0] if found else None


class Launcher:
    """Starts targets for one run. Every process goes through `processes` (a ProcessSet)."""

    def __init__(self, settings, processes, work_dir, configs_dir, keys_dir):
        self.s = settings
        self.processes = processes
        self.work = work_dir
        self.configs = configs_dir
        self.keys = keys_dir
        self.conf = os.path.join(settings.bench_dir, "conf")
        self.upstream_port = 0
        self.upstream_tls_port = 0

    def _prefix(self, name):
        prefix = os.path.join(self.work, name)
        os.makedirs(prefix, exist_ok=True)
        return prefix

    def _keep_config(self, path, name):
        shutil.copy(path, os.path.join(self.configs, name))

    # --- the stub upstream (nginx) -------------------------------------------------------------

    def start_stub(self, name, cpus):
        """nginx answering /mcp, /mcp-sse, /mcp-idle, /jwks.json and /token; returns its port."""
        prefix = self._prefix(name)
        port, tls_port = free_port(), free_port()
        echo = echo_module()
        idle = ('default_type text/event-stream; echo ": stream open"; echo ""; echo_flush; echo_sleep 3600;'
                if echo else "return 503;")
        conf = render(os.path.join(self.conf, "nginx-stub.conf"), os.path.join(prefix, "nginx.conf"), {
            "PREFIX": prefix, "PORT": port, "TLS_PORT": tls_port, "KEYS": self.keys,
            "RESULT_JSON": result_json(os.path.join(self.s.bench_dir, "payload")),
            "LOAD_ECHO_MODULE": f"load_module {echo};" if echo else "# echo module not installed",
            "IDLE_STREAM": idle,
        })
        self._keep_config(conf, f"{name}-nginx.conf")
        entry = self.processes.start(name, ["nginx", "-p", prefix, "-c", conf], os.path.join(prefix, "stdout.log"), cpus)
        wait_for_port(port, 15, entry.process)
        return port, tls_port, entry.pid, bool(echo)

    # --- targets --------------------------------------------------------------------------------

    def start(self, target):
        starter = {
            "stub": self._start_floor,
            "nginx": self._start_nginx,
            "apache-oidc": self._start_apache,
            "haproxy-jwt": self._start_haproxy,
            "haproxy-jwt-many-tokens": self._start_haproxy,
            "netty-proxy": self._start_netty_proxy,
            "portcullis": lambda t: self._start_portcullis(t, "portcullis-auth.yaml", "/mcp"),
            "portcullis-policy": lambda t: self._start_portcullis(t, "portcullis-policy.yaml", "/mcp"),
            "portcullis-exchange": lambda t: self._start_portcullis(t, "portcullis-exchange.yaml", "/mcp"),
            "portcullis-full": lambda t: self._start_portcullis(t, "portcullis-full.yaml", "/mcp"),
            "portcullis-many-tokens": lambda t: self._start_portcullis(t, "portcullis-auth.yaml", "/mcp"),
            "portcullis-sse": lambda t: self._start_portcullis(t, "portcullis-auth.yaml", "/mcp-sse"),
            "baseline-full": lambda t: self._start_portcullis(t, "portcullis-full.yaml", "/mcp", jar=self.s.baseline_jar),
            "baseline-many-tokens": lambda t: self._start_portcullis(t, "portcullis-auth.yaml", "/mcp",
                                                                     jar=self.s.baseline_jar),
            "portcullis-limits": lambda t: self._start_portcullis(t, "portcullis-limits.yaml", "/mcp"),
            "portcullis-limits-redis": self._start_limits_redis,
            "portcullis-limits-reserve": lambda t: self._start_limits_redis(t, ", reserve: 1%"),
        }[target.name]
        try:
            starter(target)
        except Exception as e:  # recorded, not fatal: the other targets still run
            target.skipped = target.skipped or f"did not start: {e}"

    def _start_floor(self, target):
        target.port, _, target.pid, _ = self.start_stub("stub-floor", self.s.proxy_cpus)

    def _start_nginx(self, target):
        prefix = self._prefix("nginx-proxy")
        target.port = free_port()
        conf = render(os.path.join(self.conf, "nginx-proxy.conf"), os.path.join(prefix, "nginx.conf"), {
            "PREFIX": prefix, "PORT": target.port, "UPSTREAM_PORT": self.upstream_port})
        self._keep_config(conf, "nginx-proxy.conf")
        entry = self.processes.start(target.name, ["nginx", "-p", prefix, "-c", conf],
                                     os.path.join(prefix, "stdout.log"), self.s.proxy_cpus)
        wait_for_port(target.port, 15, entry.process)
        target.pid = entry.pid

    def _start_netty_proxy(self, target):
        prefix = self._prefix("netty-proxy")
        target.port = free_port()
        command = [*self.gateway_command(jar=self.s.tools_jar), "netty-proxy",
                   "--port", str(target.port), "--upstream-port", str(self.upstream_port)]
        entry = self.processes.start(target.name, command, os.path.join(prefix, "stdout.log"), self.s.proxy_cpus)
        wait_for_port(target.port, 30, entry.process)
        target.pid = entry.pid

    def _start_apache(self, target):
        binary = shutil.which("apache2") or shutil.which("httpd")
        modules = next((d for d in ("/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules")
                        if os.path.exists(os.path.join(d, "mod_auth_openidc.so"))), None)
        if not binary or not modules:
            target.skipped = "apache2 or mod_auth_openidc not installed (Debian: apache2 libapache2-mod-auth-openidc)"
            return
        prefix = self._prefix("apache")
        os.chmod(prefix, 0o755)
        user, group = _unprivileged_user()
        target.port = free_port()
        conf = render(os.path.join(self.conf, "apache-oidc.conf"), os.path.join(prefix, "httpd.conf"), {
            "PREFIX": prefix, "PORT": target.port, "UPSTREAM_PORT": self.upstream_port,
            "UPSTREAM_TLS_PORT": self.upstream_tls_port, "MODULES": modules,
            "ISSUER": ISSUER, "RESOURCE": RESOURCE, "RUN_USER": user, "RUN_GROUP": group})
        if target.name in self.s.misconfigure:
            # Deliberately broken (MISCONFIGURE=apache-oidc): the audience is not checked.
            _drop_lines(conf, ('Require claim "aud:',))
            target.misconfigured = "the aud requirement removed"
        self._keep_config(conf, "apache-httpd.conf")
        entry = self.processes.start(target.name, [binary, "-f", conf, "-DFOREGROUND"],
                                     os.path.join(prefix, "stdout.log"), self.s.proxy_cpus)
        wait_for_port(target.port, 20, entry.process)
        target.pid = entry.pid

    def _start_haproxy(self, target):
        if not shutil.which("haproxy"):
            target.skipped = "haproxy not installed"
            return
        label = "haproxy" if target.name == "haproxy-jwt" else target.name  # its directory and its kept config's name
        prefix = self._prefix(label)
        target.port = free_port()
        conf = render(os.path.join(self.conf, "haproxy-jwt.cfg"), os.path.join(prefix, "haproxy.cfg"), {
            "PREFIX": prefix, "PORT": target.port, "UPSTREAM_PORT": self.upstream_port, "KEYS": self.keys,
            "ISSUER": ISSUER, "RESOURCE": RESOURCE})
        if target.name in self.s.misconfigure:
            # Deliberately broken (MISCONFIGURE=haproxy-jwt): no signature check, no expiry check.
            _drop_lines(conf, ("jwt_verify", "txn.exp),sub"))
            target.misconfigured = "jwt_verify and the exp check removed"
        self._keep_config(conf, label + ".cfg")
        check = subprocess.run(["haproxy", "-c", "-f", conf], capture_output=True, text=True)
        if check.returncode != 0:
            target.skipped = "haproxy refused the config: " + _first_error(check.stdout + check.stderr)
            return
        entry = self.processes.start(target.name, ["haproxy", "-db", "-f", conf],
                                     os.path.join(prefix, "stdout.log"), self.s.proxy_cpus)
        wait_for_port(target.port, 15, entry.process)
        target.pid = entry.pid

    def portcullis_config(self, name, template, upstream_path, store=""):
        """A rendered gateway config on two free ports: (config path, port, admin port, environment)."""
        prefix = self._prefix(name)
        port, admin = free_port(), free_port()
        values = {"PREFIX": prefix, "PORT": port, "ADMIN_PORT": admin, "UPSTREAM_PORT": self.upstream_port,
                  "UPSTREAM_PATH": upstream_path, "ISSUER": ISSUER, "RESOURCE": RESOURCE, "STORE": store}
        conf = render(os.path.join(self.conf, template), os.path.join(prefix, "gateway.yaml"), values)
        policy_source = "policy-limits.yaml" if "limits" in template else "policy.yaml"
        policy = shutil.copy(os.path.join(self.conf, policy_source), os.path.join(prefix, "policy.yaml"))
        if name in self.s.misconfigure:
            # Deliberately broken (MISCONFIGURE=portcullis-policy): search_tickets needs no scope but
            # mcp:tools, which every bench token has. (Other Portcullis modes: an issuer whose keys the
            # gateway never checks cannot be configured, so they have no broken variant.)
            with open(policy) as f:
                text = f.read()
            with open(policy, "w") as f:
                f.write(text.replace("    scopes: [tickets:read]\n    arguments:", "    scopes: [mcp:tools]\n    arguments:", 1))
        self._keep_config(conf, f"{name}.yaml")
        return conf, port, admin, dict(os.environ, BENCH_CLIENT_SECRET=CLIENT_SECRET)

    def gateway_command(self, extra_java_opts=(), jar=None):
        opts = self.s.gateway_java_opts
        if jar and jar == self.s.baseline_jar and self.s.baseline_java_opts:
            opts = self.s.baseline_java_opts
        return [self.s.gateway_java, *opts.split(), *extra_java_opts, "-jar", jar or self.s.gateway_jar]

    def start_portcullis(self, name, template, upstream_path, cpus, jar=None, store=""):
        """A gateway process; returns (port, admin_port, pid) or raises with the gateway's own error."""
        conf, port, admin, env = self.portcullis_config(name, template, upstream_path, store)
        prefix = os.path.dirname(conf)
        java = self.gateway_command(jar=jar)
        check = subprocess.run([*java, "check", "--config", conf], capture_output=True, text=True, env=env)
        if check.returncode != 0:
            raise Refused(_first_error(check.stderr + check.stdout).replace(prefix + "/", ""))
        entry = self.processes.start(name, [*java, "run", "--config", conf], os.path.join(prefix, "gateway.log"),
                                     cpus, env=env)
        wait_for_port(port, 60, entry.process)
        _wait_ready(admin, 60)
        return port, admin, entry.pid

    def _start_limits_redis(self, target, store_extra=""):
        """redis-server (pinned to STORE_CPUS: by default with the load generator and the stub, so the target's CPU
        stays its own), then the gateway."""
        redis = shutil.which("redis-server")
        if not redis:
            target.skipped = "redis-server not installed (Debian: redis-server)"
            return
        prefix = self._prefix(target.name + "-redis")
        port = free_port()
        entry = self.processes.start(target.name + "-redis", [redis, "--port", str(port), "--bind", "127.0.0.1",
                                                             "--save", "", "--appendonly", "no", "--dir", prefix],
                                     os.path.join(prefix, "redis.log"), self.s.store_cpus)
        wait_for_port(port, 15, entry.process)
        store = f"store: {{ type: redis, addresses: [\"redis://127.0.0.1:{port}\"]{store_extra} }}"
        self._start_portcullis(target, "portcullis-limits.yaml", "/mcp", store=store)

    def _start_portcullis(self, target, template, upstream_path, jar=None, store=""):
        if target.name in self.s.misconfigure:
            target.misconfigured = "the policy's scope requirement for search_tickets removed"
        try:
            target.port, _, target.pid = self.start_portcullis(target.name, template, upstream_path, self.s.proxy_cpus,
                                                               jar, store)
        except Refused as e:
            target.skipped = f"the gateway refuses {template}: {e}"


def _drop_lines(path, needles):
    with open(path) as f:
        lines = f.readlines()
    with open(path, "w") as f:
        f.writelines(line for line in lines if not any(n in line for n in needles))


class Refused(Exception):
    pass


def _wait_ready(admin_port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("gateway not ready (are the issuer's keys reachable?)")


def _first_error(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    interesting = [line for line in lines if "ALERT" in line or "rror" in line or ":" in line]
    return (interesting or lines or ["(no output)"])[0][:300]


def _unprivileged_user():
    """Apache refuses to serve as root; its children run as this user (www-data on Debian)."""
    for user in ("www-data", "apache", "nobody"):
        try:
            entry = pwd.getpwnam(user)
            return user, grp.getgrgid(entry.pw_gid).gr_name
        except KeyError:
            continue
    return "nobody", "nogroup"


def smoke_request(url, body, token, accept_sse=False):
    """One request as the load generators send it: (status, first bytes of the body)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
        "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read(400).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read(400).decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


def jvm_heap(pid):
    """Heap in use after a full GC, in MiB, from `jcmd PID GC.heap_info` (None without jcmd)."""
    if not shutil.which("jcmd"):
        return None
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=60)
    out = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=60).stdout
    used_kib = 0
    for line in out.splitlines():
        # e.g. " def new generation   total 4928K, used 1543K [...]" / " garbage-first heap   total 262144K, used 23017K"
        line = line.strip()
        if ("total" in line and "used" in line and not line.startswith(("Metaspace", "class space"))
                and ("generation" in line or "heap" in line or "PSYoungGen" in line or "ParOldGen" in line)):
            used = line.split("used", 1)[1].split()[0].rstrip(",")
            used_kib += _kib(used)
    return round(used_kib / 1024, 1) if used_kib else None


def _kib(text):
    units = {"K": 1, "M": 1024, "G": 1024 * 1024}
    return int(float(text[:-1]) * units.get(text[-1], 1)) if text[-1] in units else int(text) // 1024
