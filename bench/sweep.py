"""Choose gunicorn's processes x threads by measurement: one HTTP bench run per setting.

Each setting is a full ``bench.run --skip-worker`` (ours and bare Flask under the same
setting, in the same run), so the table shows both the absolute rates and the ratios:

    .venv/bin/python -m bench.sweep --stack production --settings 2x4 2x8 3x4 4x2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import table

CASES = {
    "thread 50": "GET thread 50 (50 roots)",
    "thread 500": "GET thread 500 (50 roots x 9 replies)",
    "counts": "GET counts for 20 articles",
    "submit": "POST submit (rate limit off)",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=("production", "embedded"), required=True)
    parser.add_argument("--settings", nargs="+", default=["2x4", "2x8", "3x4", "4x2"],
                        help="PROCESSESxTHREADS, e.g. 2x4")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    return parser.parse_args(argv)


def run_one(stack: str, workers: int, threads: int, duration: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="warden-sweep-") as tmp:
        out = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "bench.run", "--stack", stack, "--skip-worker",
                        "--workers", str(workers), "--threads", str(threads),
                        "--duration", str(duration), "--json", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        report: dict[str, Any] = json.loads(out.read_text())
        return report


def row(setting: str, report: dict[str, Any]) -> list[Any]:
    cases = report["http"]["cases"]
    cells: list[Any] = [setting]
    for name in CASES.values():
        ours, bare = cases[name]["ours"], cases[name]["bare"]
        cells += [round(ours["rps"]), round(ours["p99_ms"], 1),
                  f"{ours['rps'] / bare['rps']:.2f}" if bare and bare["rps"] else "-"]
    mixed = report["http"]["mixed"]["ours"]
    alone, during = mixed["alone"]["rps"], mixed["with_writes"]["rps"]
    cells.append(f"{(during / alone - 1) * 100:+.0f}%" if alone else "-")
    return cells


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    rows = []
    for setting in args.settings:
        workers, threads = (int(x) for x in setting.lower().split("x"))
        print(f"[sweep] {args.stack} {workers} processes x {threads} threads", file=sys.stderr,
              flush=True)
        rows.append(row(setting, run_one(args.stack, workers, threads, args.duration)))
    headers = ["processes x threads"]
    for short in CASES:
        headers += [f"{short} rps", "p99 ms", "/bare"]
    headers.append("reads during submits")
    print(table(f"gunicorn settings, {args.stack} stack (ours; /bare = ours over bare Flask "
                "under the same setting, same run)", headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
