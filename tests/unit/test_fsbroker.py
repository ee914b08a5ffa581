"""The embedded broker (kombu's filesystem transport, adapted)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from kombu import Connection, Queue

from workers.fsbroker import MAX_DRAIN_SECONDS


def _connection(folder: Path) -> Connection:
    for sub in ("queue", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return Connection(transport="workers.fsbroker:Transport", transport_options={
        "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"), "polling_interval": 0.05})


def test_an_idle_wait_hands_control_back_soon(tmp_path: Path) -> None:
    """Celery's loop for polling transports waits 2 s per call and sees a shutdown request
    only between calls: the cap is what lets an idle worker stop promptly."""
    with _connection(tmp_path) as conn:
        received: list[object] = []
        with conn.Consumer(Queue("moderation"), callbacks=[lambda body, _m: received.append(
                body)]):
            started = time.monotonic()
            with pytest.raises(socket.timeout):
                conn.drain_events(timeout=2.0)
            assert time.monotonic() - started < 1.5 > MAX_DRAIN_SECONDS
            conn.default_channel.basic_publish(
                conn.default_channel.prepare_message('{"comment": 1}',
                                                     content_type="application/json"),
                exchange="", routing_key="moderation")
            conn.drain_events(timeout=2.0)
        assert received == [{"comment": 1}]
        assert not list((tmp_path / "queue").glob("*.part")), "written atomically"
