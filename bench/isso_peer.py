"""Isso, the peer reference: a Python comment server, in its own venv (never a project
dependency). Configured with SQLite in a temporary folder, moderation off and the guard off
(so seeding is not rate-limited), seeded through its HTTP API with the same threads.

Install once: ``python3 -m venv /tmp/isso-venv && /tmp/isso-venv/bin/pip install isso
gunicorn``.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path

from bench.harness import Processes, wait_http
from bench.stacks import COUNT_KEYS, seed_body, seed_plan
from tests.support import Process

ISSO_VENV = Path("/tmp/isso-venv")  # noqa: S108 - where the README installs it
ISSO_PYTHON = ISSO_VENV / "bin" / "python"


def available() -> bool:
    return ISSO_PYTHON.exists() and subprocess.run(
        [str(ISSO_PYTHON), "-c", "import isso, gunicorn"], capture_output=True,
        check=False).returncode == 0


def version() -> str:
    return subprocess.run([str(ISSO_PYTHON), "-c", "import isso; print(isso.__version__)"],
                          capture_output=True, text=True, check=False).stdout.strip()


def write_config(folder: Path, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "isso.cfg"
    path.write_text(f"""[general]
dbpath = {folder / "comments.db"}
host = http://127.0.0.1:{port}/
notify = stdout
gravatar = false

[moderation]
enabled = false

[guard]
enabled = false

[server]
listen = http://127.0.0.1:{port}/
""")
    return path


def start(processes: Processes, folder: Path, port: int,
          gunicorn_flags: list[str]) -> tuple[Process, str]:
    """Serve Isso with gunicorn (``isso.run:application``) and the given flags."""
    config = write_config(folder, port)
    env = {"PATH": "/usr/bin:/bin", "ISSO_SETTINGS": str(config), "PYTHONUNBUFFERED": "1"}
    process = processes.start("isso", [str(ISSO_PYTHON), "-m", "gunicorn",
                                       "isso.run:application", "--bind", f"127.0.0.1:{port}",
                                       *gunicorn_flags], env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/info", process)
    return process, base


def seed(port: int) -> dict[str, int]:
    """Post every seeded comment through ``POST /new?uri=/KEY`` (replies with ``parent``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids: dict[tuple[str, int], int] = {}
    per_key: dict[str, int] = {}
    try:
        for key, i, parent in seed_plan():
            doc: dict[str, object] = {"text": seed_body(key, i), "author": f"Reader {i}",
                                      "title": key}
            if parent is not None:
                doc["parent"] = ids[(key, parent)]
            conn.request("POST", f"/new?uri=/{key}", json.dumps(doc),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            if response.status not in (201, 202):
                raise RuntimeError(f"isso refused a seed comment: {response.status} "
                                   f"{payload[:200]!r}")
            ids[(key, i)] = json.loads(payload)["id"]
            per_key[key] = per_key.get(key, 0) + 1
    finally:
        conn.close()
    return per_key


def counts_body() -> str:
    return json.dumps([f"/{key}" for key in COUNT_KEYS])
