"""Benchmark Comment Warden against a bare Flask reference (and Isso), in one command.

    .venv/bin/python bench/run.py --stack production|embedded [--duration 10]
        [--connections 32] [--workers 2 --threads 4] [--isso] [--json out.json]

Starts every server itself on free 127.0.0.1 ports (never 8000) with the same gunicorn
settings, loads it with wrk from this second process, and always stops what it started
(also on an error or Ctrl-C). Tables go to stdout (Markdown), progress to stderr.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.exc import OperationalError  # noqa: E402

from bench import isso_peer, reference_app, stacks, workload  # noqa: E402
from bench.harness import (  # noqa: E402
    WRK,
    Clock,
    CpuMeter,
    CpuUse,
    Load,
    Memory,
    Processes,
    WorkerSplit,
    WrkResult,
    as_json,
    balanced,
    check_port,
    http_json,
    load_average,
    log,
    machine,
    probe,
    ratio,
    table,
    tree_memory,
    tree_pids,
    wait_http,
    wait_idle,
    wait_quiet,
    wrk,
    wrk_together,
)
from tests.support import Process, free_port  # noqa: E402

T = TypeVar("T")
PACED_SHARE = 0.7
#: Every POST carries the Origin a browser sends (the demo site's page), as the widget's do.
BROWSER_ORIGIN = "http://127.0.0.1:8000"
#: Write connections of the paced read+submit run (each pauses between submits).
PACED_WRITE_CONNECTIONS = 4
PROCESS_OF = {"ours": "web", "bare": "reference", "isso": "isso"}

SUBMIT_BODY = json.dumps({"article": "bench-submits", "author_name": "Bench",
                          "body": "Benchmark comment {n}: a clear and polite remark about "
                                  "the article, with a *little* Markdown."})
REF_INSERT_BODY = json.dumps({"key": "bench-inserts", "author_name": "Bench",
                              "body": "<p>Benchmark comment {n}: a clear and polite remark "
                                      "about the article.</p>"})


@dataclass(frozen=True)
class Case:
    """One row of the HTTP table: the same job asked of each server."""

    name: str
    ours: str | None  # path on our service
    bare: str | None  # path on the reference
    isso: str | None = None  # path on Isso
    method: str = "GET"
    ours_body: str | None = None
    bare_body: str | None = None
    isso_body: str | None = None
    isso_method: str = "GET"


def cases() -> list[Case]:
    counts_q = "&".join(f"article={k}" for k in stacks.COUNT_KEYS)
    ref_counts_q = "&".join(f"key={k}" for k in stacks.COUNT_KEYS)
    thread = "/api/v1/sites/demo/comments?article="
    return [
        Case("GET tiny JSON (healthz / hello / info)", "/healthz", "/hello", "/info"),
        Case("GET thread 50 (50 roots)", f"{thread}t50", "/items?key=t50&limit=50",
             "/?uri=/t50"),
        Case("GET thread 500 (50 roots x 9 replies)", f"{thread}t500",
             "/items?key=t500&limit=500", "/?uri=/t500"),
        Case("GET counts for 20 articles", f"/api/v1/sites/demo/counts?{counts_q}",
             f"/counts?{ref_counts_q}", "/count", isso_body=isso_peer.counts_body(),
             isso_method="POST"),
        Case("POST submit (rate limit off)", "/api/v1/sites/demo/comments", "/items",
             method="POST", ours_body=SUBMIT_BODY, bare_body=REF_INSERT_BODY),
    ]


@dataclass
class Servers:
    ours: str
    bare: str
    isso: str | None
    ours_port: int
    procs: dict[str, Process] = field(default_factory=dict)


def gunicorn_flags(workers: int, threads: int) -> list[str]:
    """What ``warden web`` passes gunicorn (minus its metrics hook and proxy setting)."""
    return ["--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--graceful-timeout", "20", "--timeout", "30", "--access-logfile", "-"]


def start_servers(args: argparse.Namespace, stack: stacks.Stack, processes: Processes,
                  workdir: Path) -> Servers:
    port = check_port(free_port())
    web = processes.start("web", stack.command("web"), stack.env(
        WARDEN_HOST="127.0.0.1", WARDEN_PORT=str(port), WARDEN_WEB_WORKERS=str(args.workers),
        WARDEN_WEB_THREADS=str(args.threads), WARDEN_RATE_LIMIT_SUBMIT="off"))
    ours = f"http://127.0.0.1:{port}"
    wait_http(f"{ours}/healthz", web)

    reference_app.setup(stack.database_url, stacks.reference_rows())
    ref_port = check_port(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env.update(BENCH_REF_DATABASE_URL=stack.database_url, PYTHONUNBUFFERED="1")
    ref = processes.start("reference", [sys.executable, "-m", "gunicorn",
                                        "bench.reference_app:create_app()",
                                        "--bind", f"127.0.0.1:{ref_port}",
                                        *gunicorn_flags(args.workers, args.threads)], env)
    bare = f"http://127.0.0.1:{ref_port}"
    wait_http(f"{bare}/hello", ref)
    servers = Servers(ours=ours, bare=bare, isso=None, ours_port=port,
                      procs={"web": web, "reference": ref})

    if args.isso:
        if not isso_peer.available():
            log("Isso skipped: /tmp/isso-venv is missing (see bench/README.md)")
        else:
            isso_port = check_port(free_port())
            process, base = isso_peer.start(processes, workdir / "isso", isso_port,
                                            gunicorn_flags(args.workers, args.threads))
            servers.isso = base
            servers.procs["isso"] = process
            seeded = isso_peer.seed(isso_port)
            log(f"Isso {isso_peer.version()} seeded with {sum(seeded.values())} comments")
    return servers


def _thread_size(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + _thread_size(n.get("replies", [])) for n in nodes)


def sanity(servers: Servers) -> list[str]:
    """Every server answers the benchmark requests with the seeded data (else stop)."""
    problems = []
    expected_counts = {k: stacks.count_of(k) for k in stacks.COUNT_KEYS}
    case = {c.name.split(" (")[0]: c for c in cases()}
    for size, name in ((50, "GET thread 50"), (500, "GET thread 500")):
        doc = http_json(servers.ours + str(case[name].ours))
        if _thread_size(doc["comments"]) != size or doc["next_cursor"]:
            problems.append(f"ours: {name} returned {_thread_size(doc['comments'])} comments")
        rows = http_json(servers.bare + str(case[name].bare))["items"]
        if len(rows) != size:
            problems.append(f"bare: {name} returned {len(rows)} rows")
        if servers.isso:
            doc = http_json(servers.isso + str(case[name].isso))
            if _thread_size(doc["replies"]) != size:
                problems.append(f"isso: {name} returned {_thread_size(doc['replies'])}")
    counts = case["GET counts for 20 articles"]
    if http_json(servers.ours + str(counts.ours))["counts"] != expected_counts:
        problems.append("ours: counts differ from the seeded ones")
    if http_json(servers.bare + str(counts.bare))["counts"] != expected_counts:
        problems.append("bare: counts differ from the seeded ones")
    if servers.isso:
        got = http_json(servers.isso + "/count", json.loads(str(counts.isso_body)), "POST")
        if got != list(expected_counts.values()):
            problems.append(f"isso: counts {got}")
    return problems


def _load(base: str | None, path: str | None, method: str, body: str | None) -> Load | None:
    if not (base and path):
        return None
    return Load(base + path, method, body, origin=BROWSER_ORIGIN if method == "POST" else None)


def http_phase(args: argparse.Namespace, stack: stacks.Stack, servers: Servers,
               processes: Processes, report: dict[str, Any]) -> dict[str, Any]:
    """Every case on every server (back to back, each after the servers went idle), then
    reads during writes. Isso's 500-comment thread goes last and Isso is stopped after it:
    it renders every comment on every read and would keep the cores busy for minutes."""
    results: dict[str, Any] = {"cases": {}, "idle_ms": {}, "mixed": {}, "foreign": {},
                               "cpu_ms": {}, "split": {}, "repeats": 0}

    def pids() -> list[int]:
        return tree_pids(p.popen.pid for p in servers.procs.values()) + stack.db_pids()

    def idle() -> None:
        stack.analyze()
        waited = wait_idle([p.popen.pid for p in servers.procs.values()])
        if waited > 2:
            log(f"  waited {waited:.0f}s for the servers to finish abandoned requests")
        if args.quiet_wait > 0:
            wait_quiet(pids, args.quiet_wait)

    def attempts(who: str, run: Callable[[], T]) -> tuple[T, CpuUse, list[float]]:
        """Run once; again (twice at most) when a gunicorn worker of ``who`` sat idle."""
        for attempt in range(3):
            master = servers.procs[PROCESS_OF[who]].popen.pid
            meter, workers = CpuMeter(pids), WorkerSplit(master)
            outcome = run()
            use, split = meter.stop(), workers.stop()
            if balanced(split) or attempt == 2:
                break
            results["repeats"] += 1
            log(f"  a gunicorn worker of {who} sat idle (cores per worker {split}); "
                "repeating the run")
            idle()
        return outcome, use, split

    def measure(case: Case, who: str, load: Load, warm: bool = True) -> None:
        idle()
        log(f"wrk {who}: {case.name}")
        results["idle_ms"].setdefault(case.name, {})[who] = probe(load)
        if warm:
            wrk(load, args.warmup, args.connections)
        result, use, split = attempts(who, lambda: wrk(load, args.duration, args.connections))
        results["cases"].setdefault(case.name, {})[who] = result
        results["foreign"].setdefault(case.name, {})[who] = use.foreign_cores
        results["split"].setdefault(case.name, {})[who] = split
        results["cpu_ms"].setdefault(case.name, {})[who] = (
            use.server_s * 1000 / result.requests if result.requests else None)

    deferred: list[tuple[Case, Load]] = []
    for case in cases():
        loads = {
            "ours": _load(servers.ours, case.ours, case.method, case.ours_body),
            "bare": _load(servers.bare, case.bare, case.method, case.bare_body),
            "isso": _load(servers.isso, case.isso, case.isso_method, case.isso_body),
        }
        for who, load in loads.items():
            results["cases"].setdefault(case.name, {})[who] = None
            if load is None:
                continue
            if who == "isso" and case.ours and "t500" in case.ours:
                deferred.append((case, load))
                continue
            measure(case, who, load)

    # Reads at 70% of our own peak: each connection pauses so that together they ask for
    # about 0.7 x the requests/s measured above; the target is p99 < 50 ms there.
    results["paced"] = {}
    for case in cases():
        peak = results["cases"][case.name].get("ours")
        if case.method != "GET" or case.ours is None or "healthz" in str(case.ours) \
                or peak is None or not peak.rps:
            continue
        target = PACED_SHARE * peak.rps
        pause = max(1, round(args.connections * 1000 / target))
        base = _load(servers.ours, case.ours, "GET", None)
        if base is None:
            continue
        load = dataclasses.replace(base, delay_ms=pause)
        idle()
        log(f"wrk ours paced: {case.name} at ~{target:.0f} req/s ({pause} ms pauses)")
        result, _use, _split = attempts("ours", lambda load=load: wrk(
            load, args.duration, args.connections))
        results["paced"][case.name] = {"target": target, "result": result}

    # Reads while submits run: half the connections read, half write, at the same time.
    half = max(1, args.connections // 2)
    pairs = {
        "ours": (Load(f"{servers.ours}/api/v1/sites/demo/comments?article=t50"),
                 Load(f"{servers.ours}/api/v1/sites/demo/comments", "POST", SUBMIT_BODY,
                      origin=BROWSER_ORIGIN)),
        "bare": (Load(f"{servers.bare}/items?key=t50&limit=50"),
                 Load(f"{servers.bare}/items", "POST", REF_INSERT_BODY, origin=BROWSER_ORIGIN)),
    }
    for who, (read, write) in pairs.items():
        idle()
        log(f"wrk {who}: reads alone, then reads + writes together ({half}+{half} conns)")
        def alone_run(read: Load = read) -> WrkResult:
            return wrk_together([(read, half)], args.duration, processes)[0]

        def mixed_run(read: Load = read, write: Load = write) -> list[WrkResult]:
            return wrk_together([(read, half), (write, half)], args.duration, processes)

        alone, use_alone, split_alone = attempts(who, alone_run)
        idle()
        (reads, writes), use_during, split_during = attempts(who, mixed_run)
        results["mixed"][who] = {
            "alone": alone, "with_writes": reads, "writes": writes,
            "foreign": [use_alone.foreign_cores, use_during.foreign_cores],
            "server_cores": [use_alone.server_s / use_alone.seconds,
                             use_during.server_s / use_during.seconds],
            "split": [split_alone, split_during]}

    # The same pair at a steady pace: reads at 70 % of each server's own thread-50 peak,
    # alone and then while submits arrive at --paced-write-rate per second. A saturating
    # submit flood (above) slows any server on shared cores; this asks whether a heavy but
    # steady stream of comments slows what readers see.
    results["paced_mixed"] = {}
    thread50 = next(c.name for c in cases() if c.ours and f"article={stacks.THREAD_50}"
                    in str(c.ours))
    submit = next(c.name for c in cases() if c.method == "POST")
    for who, (read, write) in pairs.items():
        peak = results["cases"][thread50].get(who)
        if peak is None or not peak.rps:
            continue
        read_target = PACED_SHARE * peak.rps
        # wrk pauses after each answer: the pause is the cycle minus an idle answer's time.
        read_ms = results["idle_ms"].get(thread50, {}).get(who) or 0.0
        write_ms = results["idle_ms"].get(submit, {}).get(who) or 0.0
        paced_read = dataclasses.replace(read, delay_ms=max(
            1, round(half * 1000 / read_target - read_ms)))
        paced_write = dataclasses.replace(write, delay_ms=max(
            1, round(PACED_WRITE_CONNECTIONS * 1000 / args.paced_write_rate - write_ms)))
        log(f"wrk {who} paced: reads at ~{read_target:.0f}/s alone, then with submits at "
            f"~{args.paced_write_rate:.0f}/s")
        idle()
        alone, _use, _split = attempts(who, lambda r=paced_read: wrk_together(
            [(r, half)], args.duration, processes)[0])
        idle()
        (reads, writes), _use, _split = attempts(
            who, lambda r=paced_read, w=paced_write: wrk_together(
                [(r, half), (w, PACED_WRITE_CONNECTIONS)], args.duration, processes))
        results["paced_mixed"][who] = {"read_target": read_target, "alone": alone,
                                       "with_writes": reads, "writes": writes}

    for case, load in deferred:
        measure(case, "isso", load, warm=False)
    if "isso" in servers.procs:
        report["memory"]["isso_after_http"] = tree_memory(servers.procs["isso"].popen.pid)
        processes.stop(servers.procs.pop("isso"))
    idle()
    return results


def memory(servers: Servers) -> dict[str, Memory]:
    return {name: tree_memory(p.popen.pid) for name, p in servers.procs.items()}


def profiles(app: Any, stack: stacks.Stack) -> dict[str, dict[str, Any]]:
    """In-process cost per request (Flask test client, one thread) and SQL per request."""
    ref = reference_app.create_app(stack.database_url)
    ref_engine = reference_app.make_engine(stack.database_url)
    out: dict[str, dict[str, Any]] = {}
    for case in cases():
        ours = stacks.profile(app, case.method, str(case.ours), case.ours_body)
        bare = stacks.profile(ref, case.method, str(case.bare), case.bare_body,
                              engine=ref_engine)
        out[case.name] = {"ours": ours, "bare": bare}
    ref_engine.dispose()
    return out


def worker_phase(args: argparse.Namespace, stack: stacks.Stack, app: Any,
                 processes: Processes, servers: Servers | None) -> dict[str, Any]:
    """Throughput per concurrency, then paced submits against the last worker."""
    results: dict[str, Any] = {"throughput": [], "latency": [], "memory": {}, "foreign": {},
                               "cpu_ms": {}}
    bodies = workload.Bodies()
    for concurrency in args.concurrency:
        stack.purge_broker()
        stacks.drain_outbox(app)
        settled = stacks.settle_waiting(app)
        if settled:
            log(f"set aside {settled} comments the HTTP phase left unchecked")
        stack.analyze()
        worker = processes.start(f"worker-c{concurrency}", stack.command("worker"),
                                 stack.env(WARDEN_WORKER_CONCURRENCY=str(concurrency)))
        # Warm up first, then store the comments: a task drains every waiting comment, so
        # comments stored before the warm-up would be decided during it (uncounted).
        warm = workload.worker_ready(app, bodies.take(2 * concurrency), timeout=180)
        rest = tree_memory(worker.popen.pid)
        begin = time.monotonic()
        ids = workload.insert_comments(app, bodies.take(args.worker_n), f"w{concurrency}")
        insert_s = time.monotonic() - begin
        log(f"worker c={concurrency} ready (warm-up {warm:.1f}s); {len(ids)} comments")
        roots = [worker.popen.pid] + ([servers.procs["web"].popen.pid] if servers else [])

        def pids(roots: list[int] = roots) -> list[int]:
            return tree_pids(roots) + stack.db_pids()

        meter = CpuMeter(pids)
        result = workload.throughput(app, concurrency, ids, insert_s,
                                     timeout=args.worker_timeout)
        use = meter.stop()
        results["foreign"][f"c{concurrency}"] = use.foreign_cores
        results["cpu_ms"][f"c{concurrency}"] = (use.server_s * 1000 / result.finished
                                                if result.finished else None)
        log(f"worker c={concurrency}: {result.per_second:.1f} comments/s "
            f"({result.finished}/{result.comments} in {result.wall_s:.0f}s)")
        results["throughput"].append(result)
        if concurrency == args.concurrency[-1] and servers is not None:
            stack.purge_broker()  # what the time limit left queued
            for rate in args.rates:
                log(f"paced submits: {rate:g}/s for {args.paced_seconds:g}s "
                    f"(worker c={concurrency})")
                stack.analyze()
                meter = CpuMeter(pids)
                latency = workload.paced_submits(
                    app, servers.ours_port, rate, args.paced_seconds,
                    bodies.take(round(rate * args.paced_seconds)), f"paced-{rate:g}",
                    wait=args.decision_wait)
                use = meter.stop()
                results["foreign"][f"{rate:g}/s"] = use.foreign_cores
                results["cpu_ms"][f"{rate:g}/s"] = (use.server_s * 1000 / latency.sent
                                                    if latency.sent else None)
                results["latency"].append(latency)
                stack.purge_broker()
        results["memory"][f"worker c={concurrency}"] = {
            "rest": rest, "after": tree_memory(worker.popen.pid)}
        processes.stop(worker)
    results["bodies"] = bodies.describe()
    results["latency_concurrency"] = args.concurrency[-1]
    return results


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", choices=("production", "embedded"), required=True)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=1, help="unrecorded wrk seconds first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="WARDEN_MODERATION_BATCH_SIZE of the worker")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads each")
    parser.add_argument("--isso", action="store_true", help="also measure Isso")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--worker-n", type=int, default=2000, help="comments per worker run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2],
                        help="WARDEN_WORKER_CONCURRENCY values; paced runs use the last")
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200],
                        help="paced submissions per second")
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument("--paced-write-rate", type=float, default=50,
                        help="submits per second while paced reads run (HTTP phase)")
    parser.add_argument("--worker-timeout", type=float, default=60,
                        help="time limit of one throughput run (then the rate is of what "
                             "was checked)")
    parser.add_argument("--decision-wait", type=float, default=30,
                        help="wait for decisions this long after the last paced submit")
    parser.add_argument("--quiet-wait", type=float, default=0,
                        help="before each HTTP run, wait up to this long for other "
                             "processes on the machine to calm down")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-worker", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    parser.add_argument("--code", metavar="REV",
                        help="benchmark git revision REV (e.g. HEAD) instead of the working "
                             "tree: a `git archive` snapshot in a temp folder, run with this "
                             "bench/ harness")
    return parser.parse_args(argv)


def run_snapshot(rev: str, argv: list[str]) -> int:
    """Benchmark a committed revision: extract it (read-only ``git archive``), put this
    harness in it, and run it there; the children import the snapshot's code (their working
    folder comes first on sys.path, before the editable install)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                         capture_output=True, text=True, check=True).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix=f"warden-code-{sha}-"))
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        shutil.copytree(ROOT / "bench", folder / "bench", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        from tests.support import DATA_DIR

        env = {**os.environ, "BENCH_CODE_LABEL": f"{rev} = {sha} (git archive snapshot)"}
        env.setdefault("WARDEN_DATA_DIR", str(DATA_DIR))
        child = subprocess.Popen([sys.executable, str(folder / "bench" / "run.py"), *argv],
                                 env=env)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue  # the child got the same Ctrl-C and is stopping its processes
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _without_code(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--code":
            skip = True
        elif not arg.startswith("--code="):
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.code:
        return run_snapshot(args.code, _without_code(argv))
    missing = missing_tools(args)
    if missing:
        log(missing)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix=f"warden-bench-{args.stack}-"))
    (workdir / "logs").mkdir()
    clock = Clock()
    facts = machine()
    facts["load_before"] = load_average()
    report: dict[str, Any] = {"machine": facts, "args": {k: str(v) for k, v in
                                                          vars(args).items()}}
    ok = False
    try:
        with Processes(workdir / "logs") as processes:
            run(args, workdir, processes, clock, report)
        ok = True
    except KeyboardInterrupt:
        log("interrupted; every started process was stopped")
        return 130
    except OperationalError as exc:
        log("the database went away during the run (restarted by another process?); every "
            f"started process was stopped: {str(exc.orig or exc).splitlines()[0]}")
        return 2
    finally:
        report["phases_s"] = {k: round(v, 1) for k, v in clock.phases.items()}
        report["machine"]["load_after"] = load_average()
        report["total_s"] = round(clock.total(), 1)
        if args.json:
            args.json.write_text(json.dumps(as_json(report), indent=2, default=str))
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"logs kept in {workdir / 'logs'}")
    print(render(report))
    return 0 if all(r["ok"] for r in report.get("recounts", [])) else 1


def missing_tools(args: argparse.Namespace) -> str | None:
    """Why the run cannot start, found before minutes of setup rather than after."""
    if not args.skip_http and not Path(WRK).exists():  # WRK: shutil.which or /usr/bin/wrk
        return "wrk is missing: apt-get install -y wrk (the HTTP load generator)"
    if args.isso and not args.skip_http and not isso_peer.available():
        return ("--isso: Isso is missing: python3 -m venv /tmp/isso-venv && "
                "/tmp/isso-venv/bin/pip install isso gunicorn")
    return None


def run(args: argparse.Namespace, workdir: Path, processes: Processes, clock: Clock,
        report: dict[str, Any]) -> None:
    with clock.phase("setup"):
        log(f"preparing the {args.stack} stack in {workdir}")
        stack = stacks.prepare(args.stack, workdir, args.workers, args.threads,
                               args.batch_size)
        app = stacks.make_app(stack)
        begin = time.monotonic()
        seeded = stacks.seed(app)
        report["seed"] = {"comments": sum(seeded.values()), "seconds":
                          round(time.monotonic() - begin, 1)}
        log(f"seeded {sum(seeded.values())} approved comments")
        report["stack"] = {"name": stack.name, "database": stack.database_url.split("@")[-1],
                           "broker": stack.settings.broker_url,
                           "autovacuum": stack.autovacuum()}
        report["recounts"] = []
        servers = start_servers(args, stack, processes, workdir)
        report["isso_version"] = isso_peer.version() if servers.isso else None
        problems = sanity(servers)
        if problems:
            raise RuntimeError("sanity check failed: " + "; ".join(problems))
        time.sleep(1)
        report["memory"] = {"rest": memory(servers)}
    if not args.skip_http:
        with clock.phase("http"):
            report["http"] = http_phase(args, stack, servers, processes, report)
            report["memory"]["after_http"] = memory(servers)
            if "isso_after_http" in report["memory"]:
                report["memory"]["after_http"]["isso"] = report["memory"].pop("isso_after_http")
        with clock.phase("in-process"):
            log("in-process profile (Flask test client)")
            report["profile"] = profiles(app, stack)
        _recount(report, app, "after the HTTP runs")
    for name in ("reference", "isso"):
        if name in servers.procs:
            processes.stop(servers.procs.pop(name))
    if not args.skip_worker:
        with clock.phase("worker"):
            report["worker"] = worker_phase(args, stack, app, processes, servers)
            report["memory"]["worker"] = report["worker"]["memory"]
        report["memory"]["end"] = memory(servers)
        _recount(report, app, "after the worker runs")
    stack.close()


def _recount(report: dict[str, Any], app: Any, when: str) -> None:
    result = stacks.recount(app)
    report["recounts"].append({"when": when, "ok": result.ok, "text": result.describe()})
    log(f"{when}: {result.describe()}")


# --- output -----------------------------------------------------------------------------


def _fmt_ms(result: WrkResult | None, attr: str) -> float | None:
    return getattr(result, attr) if result else None


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    a = report["args"]
    out = [
        f"# Comment Warden benchmark — {report.get('stack', {}).get('name', a['stack'])} stack",
        "",
        f"{m['date']}; nproc={m['nproc']} ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}, Python {m['python']}, {m['wrk']}. Code: {m['code']}.",
        f"Database {report['stack']['database']}, broker {report['stack']['broker']}"
        + (f" (autovacuum {report['stack']['autovacuum']}: ANALYZE before every "
           "measurement, as autovacuum would have run by then)"
           if report['stack'].get('autovacuum') else "") + ". "
        f"gunicorn gthread --workers {a['workers']} --threads {a['threads']} for every "
        f"server; wrk -c{a['connections']} -d{a['duration']}s (+{a['warmup']}s warm-up) "
        f"from 127.0.0.1. The load generator and the servers share the {m['nproc']} cores.",
        f"Load average before/after the run: {m['load_before']} / {m.get('load_after')} "
        "(other engineers' tests share this machine; 'other' columns say how many cores "
        "they used during each measurement).",
    ]
    if report.get("isso_version"):
        out.append(f"Isso {report['isso_version']} (SQLite, moderation and guard off) on "
                   "the same gunicorn settings.")
    out.append(f"Seeded {report['seed']['comments']} approved comments in "
               f"{report['seed']['seconds']}s.")
    if "http" in report:
        out.append(_render_http(report))
    if "worker" in report:
        out.append(_render_worker(report["worker"]))
    out.append(_render_memory(report["memory"]))
    out.append("\n" + "\n".join(f"- {r['when']}: {r['text']}" for r in report["recounts"]))
    phases = ", ".join(f"{k} {v:.0f}s" for k, v in report.get("phases_s", {}).items())
    out.append(f"\nWall time {report.get('total_s', 0):.0f}s ({phases}).")
    return "\n".join(out)


def _render_http(report: dict[str, Any]) -> str:
    rows = []
    for name, r in report["http"]["cases"].items():
        ours, bare, isso = r["ours"], r["bare"], r.get("isso")
        errors = "/".join(str(x.errors) if x else "-" for x in (ours, bare, isso))
        foreign = report["http"]["foreign"].get(name, {})
        other = "/".join(f"{foreign[w]:.1f}" if w in foreign else "-"
                         for w in ("ours", "bare", "isso"))
        rows.append([name, _fmt_ms(ours, "rps"), _fmt_ms(ours, "p50_ms"),
                     _fmt_ms(ours, "p99_ms"), _fmt_ms(bare, "rps"), _fmt_ms(bare, "p50_ms"),
                     _fmt_ms(bare, "p99_ms"), ratio(_fmt_ms(ours, "rps"), _fmt_ms(bare, "rps")),
                     _fmt_ms(isso, "rps"), _fmt_ms(isso, "p50_ms"), _fmt_ms(isso, "p99_ms"),
                     ratio(_fmt_ms(ours, "rps"), _fmt_ms(isso, "rps")), errors, other])
    parts = [table("HTTP: requests/s and latency (ms)",
                   ["request", "ours rps", "p50", "p99", "bare rps", "p50", "p99",
                    "ours/bare", "Isso rps", "p50", "p99", "ours/Isso", "errors o/b/i",
                    "other o/b/i"], rows)]
    parts.append("\nother: cores used by processes outside this benchmark during the run "
                 "(ours/bare/Isso). A run in which one gunicorn worker sat idle (gthread "
                 "workers accept keep-alive connections, not requests, and one can win all "
                 "of them) is repeated, twice at most: "
                 f"{report['http'].get('repeats', 0)} repeat(s) in this run.")
    parts.append("Bare Flask does: hello JSON; SELECT 50 / 500 rows of one key; "
                 "SELECT key, COUNT(*) ... WHERE key IN (20 keys) GROUP BY key; INSERT one row. "
                 "Isso: GET /info; GET /?uri=/t50, /?uri=/t500; POST /count [20 uris].")
    paced = report["http"].get("paced", {})
    if paced:
        parts.append(table(
            f"Reads at {PACED_SHARE:.0%} of our peak (each of the connections pauses between "
            "requests; latency from send to answer; target p99 < 50 ms)",
            ["request", "target req/s", "achieved req/s", "p50", "p90", "p99", "max",
             "errors"],
            [[name, round(run["target"]), _fmt_ms(run["result"], "rps"),
              _fmt_ms(run["result"], "p50_ms"), _fmt_ms(run["result"], "p90_ms"),
              _fmt_ms(run["result"], "p99_ms"), _fmt_ms(run["result"], "max_ms"),
              run["result"].errors] for name, run in paced.items()]))
    cost_rows = []
    for name, idle_ms in report["http"]["idle_ms"].items():
        cpu = report["http"]["cpu_ms"].get(name, {})
        cost_rows.append([name, cpu.get("ours"), cpu.get("bare"),
                          ratio(cpu.get("ours"), cpu.get("bare")), cpu.get("isso"),
                          idle_ms.get("ours"), idle_ms.get("bare"), idle_ms.get("isso")])
    parts.append(table(
        "Cost per request: server CPU ms per request during the wrk run (gunicorn tree + "
        "its PostgreSQL backends; noise-resistant), and one request at a time on an idle "
        "server (ms, median of 5)",
        ["request", "ours CPU ms", "bare CPU ms", "ours/bare", "Isso CPU ms", "ours idle ms",
         "bare idle ms", "Isso idle ms"], cost_rows))
    mixed_rows = []
    for who, r in report["http"]["mixed"].items():
        alone, during, writes = r["alone"], r["with_writes"], r["writes"]
        change = (during.rps / alone.rps - 1) * 100 if alone.rps else 0.0
        mixed_rows.append([who, alone.rps, during.rps, f"{change:+.0f}%", alone.p99_ms,
                           during.p99_ms, writes.rps, writes.p99_ms,
                           f"{alone.errors}/{during.errors}/{writes.errors}",
                           "/".join(f"{x:.1f}" for x in r["server_cores"]),
                           "/".join(f"{x:.1f}" for x in r["foreign"])])
    half = max(1, int(report["args"]["connections"]) // 2)
    parts.append(table(
        f"Reads while submits run ({half} read connections alone, then {half} read + "
        f"{half} write connections at once; thread 50 / bare 50 rows, submit / bare insert)",
        ["server", "read rps alone", "read rps during writes", "change", "read p99 alone",
         "read p99 during", "write rps", "write p99", "errors", "server cores alone/during",
         "other alone/during"],
        mixed_rows))
    paced_mixed = report["http"].get("paced_mixed", {})
    if paced_mixed:
        rows = []
        for who, r in paced_mixed.items():
            alone, during, writes = r["alone"], r["with_writes"], r["writes"]
            rows.append([who, round(r["read_target"]), alone.rps, during.rps, alone.p50_ms,
                         during.p50_ms, alone.p99_ms, during.p99_ms,
                         f"{during.p99_ms / alone.p99_ms:.2f}x" if alone.p99_ms else "-",
                         writes.rps, writes.p99_ms,
                         f"{alone.errors}/{during.errors}/{writes.errors}"])
        rate = float(report["args"].get("paced_write_rate", 50))
        parts.append(table(
            f"Paced reads while paced submits run (thread 50 / bare 50 rows at {PACED_SHARE:.0%} "
            f"of each server's own peak, {half} connections; then the same with submits / "
            f"bare inserts at ~{rate:.0f}/s on {PACED_WRITE_CONNECTIONS} more)",
            ["server", "read target/s", "read rps alone", "read rps during", "p50 alone",
             "p50 during", "p99 alone", "p99 during", "p99 during/alone", "write rps",
             "write p99", "errors"], rows))
    if "profile" in report:
        prof_rows = []
        for name, r in report["profile"].items():
            ours, bare = r["ours"], r["bare"]
            prof_rows.append([name, ours.ms_per_request, bare.ms_per_request,
                              ratio(ours.ms_per_request, bare.ms_per_request),
                              ours.statements, ours.checkouts, bare.statements])
        parts.append(table("In-process cost (Flask test client, one thread, no HTTP server)",
                           ["request", "ours ms/req", "bare ms/req", "ours/bare",
                            "ours SQL/req", "ours pool checkouts/req", "bare SQL/req"],
                           prof_rows))
    return "\n".join(parts)


def _render_worker(worker: dict[str, Any]) -> str:
    rows = [[t.concurrency, t.comments, t.insert_s, t.enqueue_s, t.wall_s, t.per_second,
             t.steady_per_second, f"{t.finished}/{t.comments}",
             " ".join(f"{k} {v}" for k, v in sorted(t.decisions.items())),
             worker["cpu_ms"].get(f"c{t.concurrency}"),
             worker["foreign"].get(f"c{t.concurrency}")]
            for t in worker["throughput"]]
    parts = [table(f"Worker throughput: one `warden worker`, all checks ({worker['bodies']})",
                   ["concurrency", "comments", "insert s", "enqueue s", "wall s",
                    "comments/s", "steady comments/s", "checked", "decisions",
                   "CPU ms/comment", "other cores"],
                   rows)]
    parts.append("\nwall s: first wake sent to last comment checked (or the time limit); "
                 "comments are woken as the submit path does (debounced `wake_moderation`). "
                 "steady: spread of checked_at in the database; insert: domain code, one "
                 "commit, after the warm-up (not in comments/s). CPU ms/comment: worker "
                 "tree + PostgreSQL backends per checked comment (2 free cores would check "
                 "about 2000 / that many per second).")
    def wait(x: workload.Latency, value: float | None) -> str | float:
        return value if value is not None else f"> {x.undecided_over_s:.0f}"

    lat_rows = [[f"{x.target_rate:g}/s", x.sent, x.achieved_rate, x.failed, x.submit_p50_ms,
                 x.submit_p99_ms, f"{x.decided}/{x.sent - x.failed}",
                 wait(x, x.decision_p50_s), wait(x, x.decision_p99_s),
                 wait(x, x.decision_max_s),
                 " ".join(f"{k} {v}" for k, v in sorted(x.decisions.items())),
                 worker["cpu_ms"].get(f"{x.target_rate:g}/s"),
                 worker["foreign"].get(f"{x.target_rate:g}/s")]
                for x in worker["latency"]]
    if lat_rows:
        parts.append(table(
            f"Submit to decision (HTTP submits paced open-loop, web + worker concurrency "
            f"{worker['latency_concurrency']}; decided_at - created_at, seconds)",
            ["rate", "sent", "achieved/s", "failed", "submit p50 ms", "submit p99 ms",
             "decided", "p50 s", "p99 s", "max s", "decisions", "CPU ms/submit",
             "other cores"], lat_rows))
        parts.append("\n`> N`: that percentile is among comments still undecided after the "
                     "wait (they had waited over N s). CPU ms/submit: web + worker + "
                     "PostgreSQL CPU from the first submit to the end of the wait, per "
                     "submit (comments still undecided are not paid for yet).")
    return "\n".join(parts)


def _render_memory(mem: dict[str, Any]) -> str:
    rows = []
    for name, at_rest in mem.get("rest", {}).items():
        after = mem.get("after_http", {}).get(name)
        end = mem.get("end", {}).get(name)
        rows.append([name, at_rest.processes, at_rest.rss_mib, after.rss_mib if after else None,
                     end.rss_mib if end else None, at_rest.pss_mib,
                     (end or after).pss_mib if (end or after) else None])
    for name, pair in mem.get("worker", {}).items():
        rows.append([name, pair["rest"].processes, pair["rest"].rss_mib, None,
                     pair["after"].rss_mib, pair["rest"].pss_mib, pair["after"].pss_mib])
    return table("Memory of each process tree, MiB (VmRSS summed over master/main + "
                 "workers/children; PSS splits shared pages)",
                 ["tree", "processes", "RSS at rest", "RSS after HTTP", "RSS at end",
                  "PSS at rest", "PSS after"], rows)


if __name__ == "__main__":
    sys.exit(main())
