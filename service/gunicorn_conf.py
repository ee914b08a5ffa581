"""gunicorn hooks (``warden web``): tidy up per-process metric files of exited workers."""

from __future__ import annotations

from typing import Any


def child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
