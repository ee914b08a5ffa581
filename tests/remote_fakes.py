"""Fake Akismet and Perspective servers on 127.0.0.1 for tests.

Both speak the documented protocols and check every request against them (required
parameters, the key, the JSON shape); a request that breaks the protocol is answered 400
and kept in ``violations`` so a test can assert there were none. Each can be told how to
answer: spam, blatant, ham, invalid (Akismet), toxic/clean (Perspective), 500, hang (until
the test ends) and garbage.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

AKISMET_KEY = "akismet-test-key-5f2d9c"
PERSPECTIVE_KEY = "perspective-test-key-AIzaFake91"
AKISMET_REQUIRED = ("api_key", "blog", "user_ip")
AKISMET_KNOWN = {"api_key", "blog", "user_ip", "user_agent", "referrer", "permalink",
                 "comment_type", "comment_author", "comment_author_email",
                 "comment_author_url", "comment_content", "comment_date_gmt",
                 "comment_post_modified_gmt", "blog_lang", "blog_charset", "user_role",
                 "is_test", "recheck_reason", "honeypot_field_name"}
PERSPECTIVE_ATTRIBUTES = {"TOXICITY", "SEVERE_TOXICITY", "INSULT", "THREAT", "IDENTITY_ATTACK",
                          "PROFANITY", "SEXUALLY_EXPLICIT", "FLIRTATION"}
THANKS = b"Thanks for making the web a better place."
HANG_LIMIT_SECONDS = 30


@dataclass(frozen=True)
class Call:
    path: str  # without the query
    query: dict[str, str]
    form: dict[str, str]  # Akismet
    json: Any  # Perspective
    at: float


class FakeProviders:
    """One server, both providers: /1.1/* is Akismet, /v1alpha1/* is Perspective."""

    def __init__(self) -> None:
        self.akismet = "auto"  # auto | spam | blatant | ham | invalid | 500 | hang | garbage
        self.perspective = "auto"  # auto | toxic | clean | 500 | hang | garbage
        self.submit = "thanks"  # thanks | 500 | invalid: how submit-spam/-ham answer
        self.submit_failures = 0  # answer this many submits 500 first, then as ``submit``
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProviders:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def received(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.received(path))} of {count} calls after "
                             f"{timeout}s (violations: {self.violations})")

    # -- protocol checks ------------------------------------------------------------------

    def _violation(self, what: str) -> None:
        with self._lock:
            self.violations.append(what)

    def check_akismet(self, form: dict[str, str], content_type: str) -> str | None:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return f"akismet: form-encoded body expected, got {content_type!r}"
        missing = [name for name in AKISMET_REQUIRED if not form.get(name)]
        if missing:
            return f"akismet: missing {missing}"
        unknown = set(form) - AKISMET_KNOWN
        if unknown:
            return f"akismet: unknown parameters {sorted(unknown)}"
        if not form["blog"].startswith(("http://", "https://")):
            return "akismet: blog must be a full URL"
        if form.get("comment_type", "comment") not in {"comment", "reply", "forum-post",
                                                       "blog-post", "contact-form"}:
            return f"akismet: comment_type {form.get('comment_type')!r}"
        return None

    def check_perspective(self, query: dict[str, str], body: Any) -> str | None:
        if query.get("key") != PERSPECTIVE_KEY:
            return "perspective: key missing or wrong"
        if not isinstance(body, dict) or not isinstance(body.get("comment"), dict) or \
                not isinstance(body["comment"].get("text"), str):
            return "perspective: comment.text missing"
        requested = body.get("requestedAttributes")
        if not isinstance(requested, dict) or not requested or \
                not set(requested) <= PERSPECTIVE_ATTRIBUTES:
            return f"perspective: requestedAttributes {requested!r}"
        if "languages" in body and not (isinstance(body["languages"], list) and all(
                isinstance(code, str) for code in body["languages"])):
            return "perspective: languages must be a list of codes"
        if body.get("doNotStore") is not True:
            return "perspective: doNotStore must be true"
        return None


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            content_type = self.headers.get("Content-Type", "")
            form: dict[str, str] = {}
            doc: Any = None
            if parts.path.startswith("/1.1/"):
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True)
                        .items()}
            else:
                with contextlib.suppress(ValueError):
                    doc = json.loads(raw)
            with fake._lock:
                fake.calls.append(Call(parts.path, query, form, doc, time.monotonic()))
            if parts.path == "/1.1/comment-check":
                self._akismet_check(form, content_type)
            elif parts.path in {"/1.1/submit-spam", "/1.1/submit-ham"}:
                self._akismet_submit(form, content_type)
            elif parts.path == "/v1alpha1/comments:analyze":
                self._perspective(query, doc, content_type)
            else:
                self._send(404, b"not found")

        def _akismet_check(self, form: dict[str, str], content_type: str) -> None:
            problem = fake.check_akismet(form, content_type)
            if problem:
                fake._violation(problem)
                self._send(400, problem.encode())
                return
            if form["api_key"] != AKISMET_KEY:
                self._send(200, b"invalid", {"X-akismet-debug-help": "We were unable to "
                                             "verify your API key."})
                return
            mode = fake.akismet
            if mode == "auto":
                author = form.get("comment_author", "")
                mode = ("blatant" if "viagra-test-123" in form.get("comment_content", "")
                        else "spam" if author == "akismet-guaranteed-spam" else "ham")
            if self._failure(mode):
                return
            if mode == "invalid":
                self._send(200, b"invalid", {"X-akismet-debug-help": "Empty \"blog\" value"})
            elif mode == "blatant":
                self._send(200, b"true", {"X-akismet-pro-tip": "discard"})
            else:
                self._send(200, b"true" if mode == "spam" else b"false")

        def _akismet_submit(self, form: dict[str, str], content_type: str) -> None:
            problem = fake.check_akismet(form, content_type)
            if problem:
                fake._violation(problem)
                self._send(400, problem.encode())
                return
            with fake._lock:
                fail_now = fake.submit_failures > 0
                fake.submit_failures -= fail_now
            if fail_now:
                self._send(500, b"internal error")
            elif form["api_key"] != AKISMET_KEY or fake.submit == "invalid":
                self._send(200, b"invalid")
            elif not self._failure(fake.submit):
                self._send(200, THANKS)

        def _perspective(self, query: dict[str, str], doc: Any, content_type: str) -> None:
            problem = fake.check_perspective(query, doc)
            if not content_type.startswith("application/json"):
                problem = f"perspective: JSON body expected, got {content_type!r}"
            if problem:
                fake._violation(problem)
                body = {"error": {"code": 400, "message": problem, "status": "INVALID_ARGUMENT"}}
                self._send(400, json.dumps(body).encode(), {"Content-Type": "application/json"})
                return
            mode = fake.perspective
            if mode == "auto":
                mode = "toxic" if "idiot" in doc["comment"]["text"].lower() else "clean"
            if self._failure(mode):
                return
            values = {"TOXICITY": 0.97, "INSULT": 0.91, "PROFANITY": 0.42,
                      "SEVERE_TOXICITY": 0.38} if mode == "toxic" else {}
            scores = {
                name: {"spanScores": [{"begin": 0, "end": len(doc["comment"]["text"]),
                                       "score": {"value": values.get(name, 0.03),
                                                 "type": "PROBABILITY"}}],
                       "summaryScore": {"value": values.get(name, 0.03), "type": "PROBABILITY"}}
                for name in doc["requestedAttributes"]
            }
            reply = {"attributeScores": scores, "languages": doc.get("languages", ["en"]),
                     "detectedLanguages": ["en"]}
            self._send(200, json.dumps(reply).encode(), {"Content-Type": "application/json"})

        def _failure(self, mode: str) -> bool:
            if mode == "500":
                self._send(500, b"internal error")
            elif mode == "hang":
                fake._release.wait(HANG_LIMIT_SECONDS)
                self._send(200, b"false")
            elif mode == "garbage":
                self._send(200, b"<html>\x00\xffgateway says hi</html>",
                           {"Content-Type": "text/html"})
            else:
                return False
            return True

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            with contextlib.suppress(OSError):  # the caller may have given up (time-out)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if not headers or "Content-Type" not in headers:
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def fake_providers() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake
