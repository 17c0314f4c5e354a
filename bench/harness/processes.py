"""Starting, pinning, watching and stopping the processes of a run.

Every process the harness starts goes through ProcessSet.start, which records its PID; stop_all
ends exactly those PIDs (and their own children, found by parent PID), never anything by name.
"""
import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


_HANDED_OUT = set()


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral range: a server is
    started on it later, and a port from that range (what binding port 0 hands out) could meanwhile become the local
    port of a connection the load generator or a target opens (the tests choose theirs the same way: Ports.free)."""
    start = _ephemeral_start()
    for _ in range(200 if start - 10000 >= 1000 else 0):
        port = random.randrange(10000, start)
        if port in _HANDED_OUT:
            continue
        _HANDED_OUT.add(port)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=60.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def pinned(cpus, argv):
    """argv run on the given CPU list (taskset syntax, e.g. "1" or "0,1"); empty means unpinned."""
    return ["taskset", "-c", cpus, *argv] if cpus else list(argv)


@dataclass
class Started:
    name: str
    process: subprocess.Popen
    log_path: str

    @property
    def pid(self):
        return self.process.pid


@dataclass
class ProcessSet:
    started: list = field(default_factory=list)

    def start(self, name, argv, log_path, cpus="", env=None, cwd=None):
        log = open(log_path, "ab")
        process = subprocess.Popen(pinned(cpus, argv), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True)
        log.close()
        entry = Started(name, process, log_path)
        self.started.append(entry)
        return entry

    def stop(self, entry, grace=10.0):
        """SIGTERM to the process and its children, SIGKILL to whatever is left after `grace` seconds."""
        if entry.process.poll() is None:
            tree = process_tree(entry.pid)
            for pid in tree:
                _signal(pid, signal.SIGTERM)
            try:
                entry.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            for pid in tree:
                if _alive(pid):
                    _signal(pid, signal.SIGKILL)
            try:
                entry.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if entry in self.started:
            self.started.remove(entry)

    def stop_all(self):
        for entry in reversed(list(self.started)):
            self.stop(entry)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stat(path):
    """A /proc stat file (a process's or a thread's): its command name, and the fields after it (index 0: the state)."""
    with open(path) as f:
        text = f.read()
    return text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 1:].split()


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    return _stat(f"/proc/{pid}/stat")[1]


def process_tree(root):
    """root and all its descendants (nginx and Apache workers, forked helpers)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(_stat_fields(int(name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(root):
    """utime + stime of the process tree, in seconds (from /proc/PID/stat)."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / CLOCK_TICKS


def thread_seconds(pid):
    """{thread name: (user, system) CPU seconds} of one process, from /proc/PID/task/*/stat. The kernel keeps 15
    characters of a name (portcullis-io-2, portcullis-audi); threads of one name (a pool's) are summed under it."""
    by_name = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return by_name
    for tid in tids:
        try:
            name, fields = _stat(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue  # the thread ended meanwhile
        user, system = by_name.get(name, (0.0, 0.0))
        by_name[name] = (user + int(fields[11]) / CLOCK_TICKS, system + int(fields[12]) / CLOCK_TICKS)
    return by_name


def rss_kib(root):
    """Resident set size of the process tree, in KiB (summed: shared pages count once per process)."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except (OSError, IndexError, ValueError):
            continue
    return total
