"""Benchmark plumbing: child processes, wrk runs, process-tree memory, tables, machine facts.

Nothing here knows about Comment Warden; ``run.py`` wires it to the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from tests.support import ROOT, Process

BENCH_DIR = Path(__file__).resolve().parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
WRK_SCRIPT = BENCH_DIR / "wrk.lua"
FORBIDDEN_PORTS = frozenset({8000})


# --- processes ------------------------------------------------------------------------


class Processes:
    """Every child the benchmark starts; ``stop_all`` (also on Ctrl-C/SIGTERM) ends them.

    Each child runs in its own session (``tests.support.Process``), so stopping signals
    the whole group: gunicorn master and workers, celery main and its pool.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Process] = []
        self.popens: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log = self.log_dir / f"{name}-{len(self.started)}.log"
        process = Process(args, env, log)
        self.started.append(process)
        return process

    def stop(self, process: Process) -> None:
        if process in self.started:
            self.started.remove(process)
            process.stop(signal.SIGTERM, timeout=20)

    def stop_all(self) -> None:
        for popen in self.popens:
            if popen.poll() is None:
                popen.kill()
                popen.wait(timeout=10)
        self.popens.clear()
        while self.started:
            self.stop(self.started[-1])

    def __enter__(self) -> Processes:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def check_port(port: int) -> int:
    if port in FORBIDDEN_PORTS:
        raise RuntimeError(f"port {port} is reserved for another tool")
    return port


def wait_http(url: str, process: Process, timeout: float = 90) -> None:
    """Wait until ``url`` answers 2xx, failing early (with the log) if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.log_path.name} exited:\n{process.log_tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError), \
                urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local
            if response.status < 300:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{process.log_tail()}")


def http_json(url: str, body: Any = None, method: str | None = None) -> Any:
    """One request with a JSON answer (sanity checks and seeding)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310 - local
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local
        return json.loads(response.read())


# --- wrk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One request shape for wrk."""

    url: str
    method: str = "GET"
    body: str | None = None  # "{n}" is replaced by a per-request tag
    delay_ms: int = 0  # per-connection pause between requests (paced runs)
    origin: str | None = None  # an Origin header (browsers send one with every POST)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "BENCH_METHOD": self.method, "BENCH_DELAY_MS": str(self.delay_ms)}
        env.pop("BENCH_BODY", None)
        env.pop("BENCH_ORIGIN", None)
        if self.body is not None:
            env["BENCH_BODY"] = self.body
        if self.origin is not None:
            env["BENCH_ORIGIN"] = self.origin
        return env


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect/read/write/timeout errors plus HTTP status >= 400
    connections: int

    @classmethod
    def parse(cls, output: str, connections: int) -> WrkResult:
        line = next((ln for ln in output.splitlines() if ln.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
        doc = json.loads(line.removeprefix("WRKJSON "))
        seconds = doc["duration_us"] / 1e6
        errors = sum(doc[k] for k in ("connect", "read", "write", "status", "timeout"))
        return cls(requests=doc["requests"], seconds=seconds,
                   rps=doc["requests"] / seconds if seconds else 0.0,
                   p50_ms=doc["p50_us"] / 1000, p90_ms=doc["p90_us"] / 1000,
                   p99_ms=doc["p99_us"] / 1000, max_ms=doc["max_us"] / 1000,
                   errors=errors, connections=connections)


def _wrk_args(load: Load, seconds: float, connections: int, threads: int) -> list[str]:
    return [WRK, f"-t{max(1, min(threads, connections))}", f"-c{connections}",
            f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(WRK_SCRIPT),
            load.url]


def wrk(load: Load, seconds: float, connections: int, threads: int = 2) -> WrkResult:
    """Run wrk once (bounded: duration + 30 s) and parse its summary."""
    done = subprocess.run(_wrk_args(load, seconds, connections, threads), env=load.env(),
                          capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return WrkResult.parse(done.stdout, connections)


def wrk_together(loads: Sequence[tuple[Load, int]], seconds: float,
                 processes: Processes) -> list[WrkResult]:
    """Run several wrk processes at the same time (one wrk thread each)."""
    started = []
    for load, connections in loads:
        popen = subprocess.Popen(_wrk_args(load, seconds, connections, 1), env=load.env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        processes.popens.append(popen)
        started.append((popen, connections))
    results = []
    for popen, connections in started:
        out, err = popen.communicate(timeout=seconds + 30)
        processes.popens.remove(popen)
        if popen.returncode != 0:
            raise RuntimeError(f"wrk failed ({popen.returncode}): {err.decode()[-2000:]}")
        results.append(WrkResult.parse(out.decode(), connections))
    return results


# --- memory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """A process tree's memory: VmRSS summed (counts shared pages once per process), and
    PSS summed (shared pages split between their users: what the tree really costs)."""

    processes: int
    rss_mib: float
    pss_mib: float


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    children = _children_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory(root: int) -> Memory:
    pids = [pid for pid in process_tree(root) if Path(f"/proc/{pid}").exists()]
    rss = sum(_kib(Path(f"/proc/{pid}/status"), "VmRSS") for pid in pids)
    pss = sum(_kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids)
    return Memory(processes=len(pids), rss_mib=rss / 1024, pss_mib=pss / 1024)


def pid_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one live process (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def tree_cpu_seconds(root: int) -> float:
    """CPU time of a live process tree (children that exited are not counted)."""
    return sum(pid_cpu_seconds(pid) or 0.0 for pid in process_tree(root))


def wait_idle(roots: Sequence[int], timeout: float = 30, window: float = 0.5,
              busy: float = 0.05) -> float:
    """Wait until the trees use under ``busy`` of a core: a server may still be answering
    requests that wrk abandoned at the end of the previous run. Returns seconds waited."""
    begin = time.monotonic()
    before = sum(tree_cpu_seconds(r) for r in roots)
    while time.monotonic() - begin < timeout:
        time.sleep(window)
        after = sum(tree_cpu_seconds(r) for r in roots)
        if (after - before) / window < busy:
            break
        before = after
    return time.monotonic() - begin


def _busy_seconds() -> float:
    """System-wide busy CPU seconds (all cores) since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True)
class CpuUse:
    seconds: float  # wall time measured
    server_s: float  # CPU of the servers under test (+ their PostgreSQL backends)
    foreign_cores: float  # cores used by processes outside the benchmark


class CpuMeter:
    """CPU during a measurement, per process: the servers' trees plus their database
    backends (``pids``), this process with its reaped children (wrk), and everybody else
    (all busy time in /proc/stat minus those). Other engineers' tests share this machine;
    ``foreign_cores`` says how much they took."""

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self.pids = pids
        self.begin = time.monotonic()
        self.busy = _busy_seconds()
        self.own = _own_seconds()
        self.start = self._snapshot()

    def _snapshot(self) -> dict[int, float]:
        return {pid: cpu for pid in set(self.pids())
                if (cpu := pid_cpu_seconds(pid)) is not None}

    def stop(self) -> CpuUse:
        end = self._snapshot()
        elapsed = time.monotonic() - self.begin
        server = sum(cpu - self.start.get(pid, 0.0) for pid, cpu in end.items())
        own = _own_seconds() - self.own
        busy = _busy_seconds() - self.busy
        foreign = max(0.0, busy - server - own) / elapsed if elapsed else 0.0
        return CpuUse(seconds=elapsed, server_s=server, foreign_cores=foreign)


class WorkerSplit:
    """CPU of each gunicorn worker (the master's children) during a run. gthread workers
    accept connections, not requests: when one worker wins the accept race for every
    keep-alive connection wrk opens, the other sits idle and the run measures one core."""

    def __init__(self, master: int) -> None:
        self.workers = [pid for pid in process_tree(master) if pid != master]
        self.begin = time.monotonic()
        self.start = {pid: pid_cpu_seconds(pid) or 0.0 for pid in self.workers}

    def stop(self) -> list[float]:
        elapsed = time.monotonic() - self.begin
        return [round(((pid_cpu_seconds(pid) or 0.0) - self.start[pid]) / elapsed, 2)
                for pid in self.workers]


def balanced(cores: Sequence[float]) -> bool:
    """False when a worker idled (under 30% of the busiest) while the busiest worked."""
    return len(cores) < 2 or max(cores) < 0.3 or min(cores) >= 0.3 * max(cores)


def tree_pids(roots: Iterable[int]) -> list[int]:
    return [pid for root in roots for pid in process_tree(root)]


def wait_quiet(pids: Callable[[], Iterable[int]], max_wait: float, busy: float = 0.3,
               window: float = 0.5) -> float:
    """Wait (at most ``max_wait`` s) for other processes to use under ``busy`` cores;
    return what they used in the last window."""
    begin = time.monotonic()
    while True:
        meter = CpuMeter(pids)
        time.sleep(window)
        foreign = meter.stop().foreign_cores
        if foreign < busy or time.monotonic() - begin >= max_wait:
            return foreign


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def probe(load: Load, count: int = 5, budget: float = 8) -> float:
    """Median time (ms) of single sequential requests on an otherwise idle server (one
    unrecorded first; stops early once ``budget`` seconds are spent)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(load.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    times: list[float] = []
    begin = time.monotonic()
    try:
        for i in range(count + 1):
            body = load.body.replace("{n}", f"probe-{i}") if load.body else None
            start = time.perf_counter()
            conn.request(load.method, path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status >= 400:
                raise RuntimeError(f"{load.method} {load.url} -> {response.status}")
            if i:
                times.append((time.perf_counter() - start) * 1000)
            if time.monotonic() - begin > budget and times:
                break
    finally:
        conn.close()
    return percentile(times, 50)


# --- small statistics and tables --------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (pastes into bench/README.md as is)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(header)]
    lines = [f"\n{title}\n",
             "| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))
             + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.rjust(w) if _numeric(c) else c.ljust(w)
                                for c, w in zip(row, widths, strict=True)) + " |"
              for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def _numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "").replace("%", "").lstrip("+-x").isdigit()


def ratio(ours: float | None, other: float | None) -> str | None:
    if not ours or not other:
        return None
    return f"{ours / other:.2f}"


# --- facts about the run ----------------------------------------------------------------


def _command_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = _kib(Path("/proc/meminfo"), "MemTotal")
    wrk_version = _command_output([WRK, "--version"]).split("[")[0].strip()
    git = _command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(_command_output(["git", "-C", str(ROOT), "status", "--porcelain"]))
    code = os.environ.get("BENCH_CODE_LABEL") or (
        f"working tree at {git}{' with uncommitted changes' if dirty else ''}")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version,
        "code": code,
    }


def as_json(value: Any) -> Any:
    """Dataclasses (nested in dicts/lists) to plain JSON values."""
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


@dataclass
class Clock:
    """Wall time per phase, printed at the end (the whole run must stay short)."""

    started: float = field(default_factory=time.monotonic)
    phases: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        begin = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - begin

    def total(self) -> float:
        return time.monotonic() - self.started


def log(message: str) -> None:
    """Progress on stderr (tables go to stdout)."""
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
