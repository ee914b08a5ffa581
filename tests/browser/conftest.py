"""The widget in real headless Chromium against a real `warden run` (web + worker + beat).

One embedded stack serves the whole session on a free port (never 8000), with a small
page size so "load more" is reachable. Pages come from the service itself (/demo) and from
a second origin served here: a third-party article page without any CSP that embeds the
widget, so CORS works as on a real site and an XSS would really run.

Chromium is Debian's (/usr/bin/chromium; `apt-get install -y chromium`): missing, it skips
these tests locally and fails them under CI (.ci/run installs it).
"""

from __future__ import annotations

import html
import http.server
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select, update

from service.models import FINAL_STATUSES, Comment, CommentStatus
from service.sqlite import intends_to_write
from tests.integration.conftest import Stack, build_settings
from tests.support import IN_CI, free_port, upgrade, wait_until

CHROMIUM = Path(os.environ.get("WARDEN_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking",
                 "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
PAGE_SIZE = 3
DECIDED = 30_000  # ms: a comment's decision reaches the page well within this
# HTTP errors the widget handles itself (404 for a new article's thread, 409 for a repeat
# report) still make Chromium log "Failed to load resource"; anything else is a bug.
EXPECTED_CONSOLE = re.compile(r"^Failed to load resource: the server responded with a status of")


def require_chromium() -> None:
    """Skip locally, fail loudly under CI: CI must never skip the browser tests."""
    if CHROMIUM.exists():
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it (see .ci/run)", pytrace=False)
    pytest.skip(f"{message}; the browser tests are skipped locally")


class HostPages:
    """A second origin: plain article pages that embed the widget, no CSP at all."""

    def __init__(self, service_url: str) -> None:
        self.service_url = service_url
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, path: str, body: str, *, head: str = "") -> str:
        self.pages[path] = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Host {html.escape(path)}</title>{head}</head><body>'
            f'<h1>An article on another site</h1>{body}</body></html>'
        )
        return self.origin + path

    def article(self, path: str, key: str | None, *, theme: str | None = None,
                site: str = "demo") -> str:
        """A page with the thread for ``key`` (None: the page's canonical URL decides)."""
        attrs = f' data-warden-site="{html.escape(site)}"'
        if key is not None:
            attrs += f' data-warden-article="{html.escape(key)}"'
        if theme:
            attrs += f' data-warden-theme="{theme}"'
        return self.add(path, f'<p>Some text.</p><div id="warden-thread"{attrs}></div>'
                        f'<script src="{self.service_url}/embed.js" defer></script>')

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Live:
    url: str
    stack: Stack
    app: Flask
    hosts: HostPages
    http: httpx.Client
    _seq: list[int] = field(default_factory=lambda: [0])

    def unique(self, prefix: str) -> str:
        self._seq[0] += 1
        return f"{prefix}-{self._seq[0]}"


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from service.app import create_app
    from service.extensions import db
    from service.models import Site

    tmp = tmp_path_factory.mktemp("browser-stack")
    settings = build_settings("embedded", tmp)
    upgrade(settings)
    stack = Stack("embedded", settings, tmp)
    port = free_port()
    process = stack.start("run", WARDEN_PORT=str(port), WARDEN_WEB_WORKERS="1",
                          WARDEN_PAGE_SIZE=str(PAGE_SIZE))
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=10)
    hosts = HostPages(url)
    app = create_app(settings)
    try:
        def ready() -> bool:
            assert process.popen.poll() is None, process.log_tail()
            try:
                return client.get("/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 90, interval=0.3, message="/readyz of `warden run`")
        with app.app_context(), intends_to_write():  # `warden run` seeded it for :8000
            site = db.session.get(Site, "demo")
            assert site is not None
            site.allowed_origins = [*site.allowed_origins, url, hosts.origin]
            db.session.commit()
            db.session.remove()
        yield Live(url, stack, app, hosts, client)
    finally:
        client.close()
        hosts.close()
        stack.stop_all()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Any]:
    """Chromium per test module: Playwright's sync API keeps an asyncio loop running while
    it is started, which would break asyncio.run() in the tests that follow."""
    require_chromium()
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS, timeout=30_000)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that it must not: dialogs, uncaught errors, console errors."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(message.text)
                if message.type == "error" and not EXPECTED_CONSOLE.match(message.text)
                else None)
        # Runs before any page script (outside the page's CSP), records CSP violations.
        page.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")

    def assert_clean(self) -> None:
        assert not self.dialogs, f"a dialog fired: {self.dialogs}"
        assert not self.errors, f"uncaught page errors: {self.errors}"
        assert not self.console, f"console errors: {self.console}"


@dataclass
class Reader:
    """One reader: a fresh browser context (own localStorage), a page, and its watch."""

    context: Any
    page: Any
    watch: Watch

    def pause(self, ms: int = 3000) -> None:
        """Time spent reading and writing: the form has been open this long."""
        self.page.clock.fast_forward(ms)


def new_reader(browser: Any, *, width: int = 1280, height: int = 900,
               color_scheme: str = "light") -> Reader:
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=color_scheme, reduced_motion="reduce")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.clock.install()  # time still flows; pause() jumps it like a reader taking a while
    watch = Watch()
    watch.attach(page)
    return Reader(context, page, watch)


@pytest.fixture
def reader(browser: Any, live: Live) -> Iterator[Reader]:
    current = new_reader(browser)
    yield current
    current.context.close()
    forget_browser_address(live)
    current.watch.assert_clean()


@pytest.fixture
def make_reader(browser: Any, live: Live) -> Iterator[Any]:
    """More readers (other people, other screens); each is checked like ``reader``."""
    made: list[Reader] = []

    def make(**options: Any) -> Reader:
        made.append(new_reader(browser, **options))
        return made[-1]

    yield make
    for one in made:
        one.context.close()
    forget_browser_address(live)
    for one in made:
        one.watch.assert_clean()


def forget_browser_address(live: Live) -> None:
    """Each test's readers stand for other people: give their comments another address.

    Every browser comment comes from 127.0.0.1, and the behaviour check holds the 13th
    comment from one address within ten minutes; real readers do not share one address.
    """
    from service.domain.security import hash_ip
    from service.extensions import db

    mine = hash_ip("127.0.0.1", live.stack.settings.secret_key)
    with live.app.app_context(), intends_to_write():
        db.session.execute(update(Comment).where(Comment.ip_hash == mine)
                           .values(ip_hash=live.unique("earlier-reader")))
        db.session.commit()
        db.session.remove()


def edit_site(live: Live, **values: object) -> None:
    """Change the demo site's settings as an operator would, under the write lock.

    Taken up front (BEGIN IMMEDIATE): a plain transaction that read the site and then
    writes fails at once with "database is locked" if the worker committed in between.
    """
    from service.extensions import db
    from service.models import Site

    with live.app.app_context(), intends_to_write():
        site = db.session.get(Site, "demo")
        for name, value in values.items():
            setattr(site, name, value)
        db.session.commit()
        db.session.remove()


# ---- data through the domain code (not the browser's address: no burst signals) -------

def seed(live: Live, article: str, bodies: list[str], *, names: list[str] | None = None,
         parents: list[int | None] | None = None, decide: bool = True) -> list[int]:
    """Submit like the API does, from distinct addresses, and let the worker decide."""
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.extensions import db
    from service.models import Site
    from workers.dispatch import enqueue_moderation

    ids: list[int] = []
    with live.app.app_context(), intends_to_write():
        site = db.session.get(Site, "demo")
        for i, body in enumerate(bodies):
            name = (names or ["Reader"])[i % len(names or ["Reader"])]
            parent = parents[i] if parents else None
            accepted = submit_comment(
                db.session, site,
                Submission(article=article, body=body, author_name=name, parent_id=parent,
                           elapsed_ms=20_000),
                ClientInfo(ip_hash=live.unique("seed-ip"), user_agent="seed"),
                max_depth=5, max_body_chars=5000)
            db.session.commit()
            ids.append(accepted.comment.id)
            assert enqueue_moderation(accepted.comment.id)
        db.session.remove()
    if decide:
        settle(live, ids)
    return ids


def statuses(live: Live, ids: list[int]) -> dict[int, CommentStatus]:
    from service.extensions import db

    with live.app.app_context():
        rows = db.session.execute(select(Comment.id, Comment.status).where(Comment.id.in_(ids)))
        found = {row.id: row.status for row in rows}
        db.session.remove()
    return found


def settle(live: Live, ids: list[int]) -> dict[int, CommentStatus]:
    """Wait for the worker's decisions, then approve what it held or refused, as a moderator.

    Approving only after the worker decided means it can never overwrite the approval.
    """
    from service.domain.lifecycle import Actor, transition
    from service.extensions import db

    def all_decided() -> dict[int, CommentStatus] | None:
        found = statuses(live, ids)
        done = len(found) == len(ids) and all(s in FINAL_STATUSES for s in found.values())
        return found if done else None

    decided = wait_until(all_decided, 60, interval=0.1, message=f"worker decisions on {ids}")
    with live.app.app_context(), intends_to_write():
        for comment_id in ids:
            comment = db.session.get(Comment, comment_id)
            if comment.status != CommentStatus.APPROVED:
                transition(db.session, comment, CommentStatus.APPROVED,
                           Actor("moderator", "test"), "approved by the browser tests")
        db.session.commit()
        db.session.remove()
    return decided


def age_comments(live: Live, ids: list[int], by: timedelta) -> None:
    """Move comments back in time (for relative times and the edit window)."""
    from service.extensions import db

    with live.app.app_context(), intends_to_write():
        for comment_id in ids:
            comment = db.session.get(Comment, comment_id)
            db.session.execute(update(Comment).where(Comment.id == comment_id)
                               .values(created_at=comment.created_at - by))
        db.session.commit()
        db.session.remove()


def comment_ids(live: Live, article: str) -> list[int]:
    from service.extensions import db
    from service.models import Article

    with live.app.app_context():
        found = list(db.session.scalars(
            select(Comment.id).join(Article, Comment.article_id == Article.id)
            .where(Article.key == article).order_by(Comment.id)))
        db.session.remove()
    return found


def wait_status(live: Live, comment_id: int, wanted: set[CommentStatus],
                timeout: float = 30) -> CommentStatus:
    def reached() -> CommentStatus | None:
        status = statuses(live, [comment_id]).get(comment_id)
        return status if status in wanted else None

    return wait_until(reached, timeout, interval=0.1, message=f"comment {comment_id} in {wanted}")
