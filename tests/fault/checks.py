"""What every fault test asserts afterwards, and the HTTP clients that make the traffic."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import func, select

from service import sqlite
from service.extensions import db
from service.models import (
    FINAL_STATUSES,
    Article,
    AuditEntry,
    Author,
    Comment,
    CommentStatus,
    Event,
)
from tests.support import wait_until

SUBMIT = "/api/v1/sites/demo/comments"
COUNTS = "/api/v1/sites/demo/counts"
CLEAN = "thanks for this clear report on the council budget; the timeline helped me a lot"
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron"


def body_for(marker: str, n: int) -> str:
    """A unique text per request (found again by its marker), one in three toxic."""
    return f"[{marker}-{n}] {TOXIC if n % 3 == 0 else CLEAN}"


@dataclass
class Answer:
    """One HTTP exchange as the client saw it."""

    n: int
    kind: str
    started: float
    took: float
    status: int | None = None
    doc: Any = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def ended(self) -> float:
        return self.started + self.took


def call(client: httpx.Client, n: int, kind: str, method: str, url: str,
         **kwargs: Any) -> Answer:
    started = time.monotonic()
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        return Answer(n, kind, started, time.monotonic() - started, error=type(exc).__name__)
    try:
        doc = response.json()
    except ValueError:
        doc = response.text[:200]
    return Answer(n, kind, started, time.monotonic() - started, response.status_code, doc,
                  retry_after=response.headers.get("Retry-After"))


def post_comment(client: httpx.Client, marker: str, n: int, article: str | None = None) -> Answer:
    payload = {"article": article or f"{marker}-story-{n % 5}", "author_name": f"reader {n}",
               "body": body_for(marker, n)}
    return call(client, n, "submit", "POST", SUBMIT, json=payload)


def submit_many(base_url: str, marker: str, count: int, *, threads: int = 8,
                timeout: float = 10) -> list[Answer]:
    """``count`` submits over real HTTP from ``threads`` client threads."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(n: int) -> Answer:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=timeout,
                                        limits=httpx.Limits(max_keepalive_connections=0))
            clients.append(local.client)
        return post_comment(local.client, marker, n)

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for client in clients:
            client.close()


def summary(answers: Iterable[Answer]) -> Counter[str]:
    return Counter(str(a.status) if a.status is not None else a.error or "?" for a in answers)


def accepted_ids(answers: Iterable[Answer]) -> list[int]:
    return [a.doc["id"] for a in answers if a.status == 202]


# --- the database afterwards -------------------------------------------------------------


def statuses(app: Flask, ids: Iterable[int]) -> dict[int, CommentStatus]:
    ids = list(ids)
    with app.app_context():
        rows = db.session.execute(select(Comment.id, Comment.status).where(Comment.id.in_(ids)))
        result = {row.id: row.status for row in rows}
        db.session.remove()
    return result


def count_final(app: Flask, ids: Iterable[int]) -> int:
    return sum(s in FINAL_STATUSES for s in statuses(app, ids).values())


def store_backlog(app: Flask, marker: str, count: int) -> list[int]:
    """Accepted comments straight through the domain code (no HTTP, no wake): a backlog
    deep enough that a fast worker is still busy with it seconds later. On SQLite it says
    it will write, as a request does: a deferred transaction whose snapshot a busy worker
    makes stale fails its first write with "database is locked" instead of waiting."""
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.models import Site

    with app.app_context(), sqlite.intends_to_write():
        site = db.session.get(Site, "demo")
        assert site is not None
        ids = [submit_comment(db.session, site,
                              Submission(article=f"{marker}-{n % 10}", body=body_for(marker, n),
                                         author_name=f"Backlog {n}"),
                              ClientInfo(ip_hash=f"{marker}-{n}"), max_depth=5,
                              max_body_chars=5000).comment.id
               for n in range(count)]
        db.session.commit()
        db.session.remove()
    return ids


def all_comment_ids(app: Flask) -> list[int]:
    with app.app_context():
        ids = list(db.session.scalars(select(Comment.id).order_by(Comment.id)))
        db.session.remove()
    return ids


def stored_by_marker(app: Flask, marker: str) -> dict[int, int]:
    """Request number -> comment id, for every stored comment that carries ``marker``."""
    prefix = f"[{marker}-"
    with app.app_context():
        rows = db.session.execute(select(Comment.id, Comment.body)
                                  .where(Comment.body.startswith(prefix))).all()
        db.session.remove()
    return {int(body[len(prefix):body.index("]")]): cid for cid, body in rows}


def wait_all_final(app: Flask, ids: list[int], timeout: float, what: str) -> float:
    """Seconds until every comment in ``ids`` has a final status (bounded by ``timeout``)."""
    started = time.monotonic()
    wait_until(lambda: count_final(app, ids) == len(ids), timeout, interval=0.5,
               message=f"{what}: {len(ids)} comments to reach a final state")
    return time.monotonic() - started


def assert_decided_once(app: Flask, ids: list[int]) -> None:
    """Each comment has exactly one decision (from pending to its status) and one event."""
    keys = [str(i) for i in ids]
    current = {str(k): str(v) for k, v in statuses(app, ids).items()}
    with app.app_context():
        audits = db.session.execute(
            select(AuditEntry.subject_id, AuditEntry.from_status, AuditEntry.to_status)
            .where(AuditEntry.subject_type == "comment", AuditEntry.action != "comment.created",
                   AuditEntry.subject_id.in_(keys))).all()
        events = db.session.execute(
            select(Event.subject_id, Event.type)
            .where(Event.type.startswith("comment."), Event.type != "comment.created",
                   Event.subject_id.in_(keys))).all()
        db.session.remove()
    decisions: dict[str, list[tuple[str | None, str | None]]] = defaultdict(list)
    for subject, from_status, to_status in audits:
        decisions[subject].append((from_status, to_status))
    wrong = {k: decisions.get(k) for k in keys
             if decisions.get(k) != [("pending", current[k])]}
    assert not wrong, f"{len(wrong)} comments not decided exactly once: {list(wrong.items())[:5]}"
    per_comment = Counter(subject for subject, _ in events)
    extra = {k: n for k, n in per_comment.items() if n != 1}
    assert set(per_comment) == set(keys), "a decided comment without its decision event"
    assert not extra, f"decision events per comment: {extra}"


def assert_counts_match_recount(app: Flask) -> None:
    """Stored approved counts (articles and authors) equal a recount of the comments."""
    with app.app_context():
        stored = dict(db.session.execute(select(Article.id, Article.approved_count)).all())
        recount = dict(db.session.execute(
            select(Comment.article_id, func.count())
            .where(Comment.status == CommentStatus.APPROVED).group_by(Comment.article_id)).all())
        authors = {a.id: (a.approved_count, a.rejected_count)
                   for a in db.session.scalars(select(Author))}
        rows = db.session.execute(select(Comment.author_id, Comment.status,
                                         Comment.deleted_from)).all()
        db.session.remove()
    assert stored == {article: recount.get(article, 0) for article in stored}
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rejected_like = {CommentStatus.REJECTED, CommentStatus.SPAM}
    for author_id, status, deleted_from in rows:
        tally[author_id][0] += status == CommentStatus.APPROVED
        # A rejection its author deleted stays in their history.
        tally[author_id][1] += status in rejected_like or deleted_from in rejected_like
    assert authors == {a: tuple(tally[a]) for a in authors}


def assert_nothing_half_written(app: Flask) -> None:
    """Every stored comment has its creation audit entry and its comment.created event."""
    with app.app_context():
        ids = {str(i) for i in db.session.scalars(select(Comment.id))}
        audited = Counter(db.session.scalars(
            select(AuditEntry.subject_id).where(AuditEntry.subject_type == "comment",
                                                AuditEntry.action == "comment.created")))
        announced = Counter(db.session.scalars(
            select(Event.subject_id).where(Event.type == "comment.created")))
        db.session.remove()
    assert all(audited[i] == 1 for i in ids), "a comment without (or with two) creation audits"
    assert all(announced[i] == 1 for i in ids), "a comment without its comment.created event"
    assert set(audited) <= ids, "a creation audit without its comment"
    assert set(announced) <= ids, "a comment.created event without its comment"


def run_until(stop: threading.Event, work: Callable[[int], Answer], sink: list[Answer],
              deadline: float) -> None:
    """Call ``work(n)`` in a loop until ``stop`` is set or the deadline passes."""
    n = 0
    while not stop.is_set() and time.monotonic() < deadline:
        sink.append(work(n))
        n += 1
