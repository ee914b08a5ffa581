"""A real HTTP webhook receiver on 127.0.0.1 for tests: records every request, answers as
scripted per path (e.g. 500, 500, then 200), and can hold a request open."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

HOLD_LIMIT_SECONDS = 60


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """What a subscriber does first: check the signature with its copy of the secret."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self._requests: list[Received] = []
        self._scripts: dict[str, list[int]] = {}
        self._holds: dict[str, threading.Event] = {}
        self._delays: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for event in self._holds.values():
            event.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, then 200."""
        with self._lock:
            self._scripts[path] = list(statuses)

    def hold_first(self, path: str) -> threading.Event:
        """Keep the first request to ``path`` open until the returned event is set."""
        event = threading.Event()
        self._holds[path] = event
        return event

    def delay(self, path: str, seconds: float) -> None:
        """Answer every request to ``path`` only after ``seconds`` (a slow subscriber)."""
        self._delays[path] = min(seconds, HOLD_LIMIT_SECONDS)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def wait_for(self, path: str, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.received(path))} of {count} requests "
                             f"after {timeout}s")

    def _take(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, threading.Event
                                                                           | None]:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            first = not any(r.path == handler.path for r in self._requests)
            self._requests.append(Received(handler.path, headers, body, time.monotonic()))
            script = self._scripts.get(handler.path) or []
            status = script.pop(0) if script else 200
        hold = self._holds.get(handler.path) if first else None
        return status, hold


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, hold = receiver._take(self, body)
            if hold is not None:
                hold.wait(HOLD_LIMIT_SECONDS)
            time.sleep(receiver._delays.get(self.path, 0))
            answer = b'{"received": true}' if status < 300 else b'{"error": "scripted"}'
            with contextlib.suppress(OSError):  # the sender may be gone (killed worker)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "https://elsewhere.example/hook")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    with Receiver(port) as receiver:
        yield receiver
