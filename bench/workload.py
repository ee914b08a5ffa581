"""Worker benchmarks: moderation throughput of one ``warden worker``, and submit-to-decision
time under paced HTTP submits."""

from __future__ import annotations

import csv
import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import func, select

from bench.harness import percentile
from tests.support import DATA_DIR

MAX_CHARS = 2000  # long labelled texts are cut (the service refuses > 5000 characters)
# pool -> (files, share): mostly clean Wikipedia talk comments, some YouTube spam and ham,
# some tweets (mostly offensive). Big enough for a default run without reusing a text.
SOURCES = {
    "jigsaw": (("toxicity_jigsaw_wiki_dev.csv", "toxicity_jigsaw_wiki_train.csv"), 0.7),
    "youtube": (("spam_youtube_dev.csv",), 0.15),
    "davidson": (("toxicity_davidson_dev.csv",), 0.15),
}
_FALLBACK = [
    "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot.",
    "You are a worthless idiot, shut your stupid mouth you moron.",
    "Check out my channel for free iPhones!!! http://bit.ly/xyz http://bit.ly/abc",
    "I disagree with the second point, the figures from last year tell another story.",
    "Great article, I shared it with my colleagues at the council.",
]


class Bodies:
    """Comment texts from the labelled data sets in fixed shares, drawn without replacement
    so the behaviour check does not see the bench repeat itself; a pool that runs out is
    reshuffled and its texts get a unique suffix (same mix, no exact repeats). A built-in
    list (made unique) when ``WARDEN_DATA_DIR`` is absent."""

    def __init__(self, seed: int = 9) -> None:
        self.rng = random.Random(seed)
        self.texts: dict[str, list[str]] = {}
        for pool, (files, _share) in SOURCES.items():
            texts = []
            for name in files:
                path = DATA_DIR / name
                if path.exists():
                    with path.open(newline="", encoding="utf-8") as handle:
                        texts += [row["text"][:MAX_CHARS] for row in csv.DictReader(handle)
                                  if row["text"].strip()]
            if texts:
                self.texts[pool] = texts
        self.pools = {pool: self._shuffled(pool) for pool in self.texts}
        self.used = 0
        self.recycled = 0

    def _shuffled(self, pool: str) -> list[str]:
        texts = list(self.texts[pool])
        self.rng.shuffle(texts)
        return texts

    def describe(self) -> str:
        if not self.texts:
            return "built-in example texts (WARDEN_DATA_DIR not found)"
        mix = ", ".join(f"{pool} {SOURCES[pool][1]:.0%}" for pool in self.texts)
        again = f"; {self.recycled} reused with a suffix" if self.recycled else ""
        return f"labelled texts: {mix}{again}"

    def take(self, n: int) -> list[str]:
        out = []
        names = list(self.pools)
        for _ in range(n):
            self.used += 1
            if not names:
                out.append(f"{_FALLBACK[self.used % len(_FALLBACK)]} (#{self.used})")
                continue
            pool = self.rng.choices(names, [SOURCES[x][1] for x in names])[0]
            if not self.pools[pool]:
                self.pools[pool] = self._shuffled(pool)
                self.recycled += 1
            text = self.pools[pool].pop()
            out.append(text if self.recycled == 0 else f"{text} #{self.used}")
        return out


def insert_comments(app: Flask, bodies: list[str], prefix: str) -> list[int]:
    """Store comments as the API does (domain code, one commit), without sending tasks.
    Each has its own author; addresses repeat at most 5 times (under the burst limits)."""
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.extensions import db
    from service.models import Site

    with app.app_context():
        session = db.session()
        site = session.get(Site, "demo")
        assert site is not None
        ids = []
        for i, body in enumerate(bodies):
            accepted = submit_comment(
                session, site,
                Submission(article=f"{prefix}-{i % 20}", body=body, author_name=f"W {i}",
                           elapsed_ms=15_000),
                ClientInfo(ip_hash=f"{prefix}-ip-{i // 5}"), max_depth=5,
                max_body_chars=5000)
            ids.append(accepted.comment.id)
        db.session.commit()
        db.session.remove()
    return ids


def enqueue(app: Flask, ids: list[int]) -> None:
    """Wake the worker as the submit path does (``wake_moderation``, debounced: a burst
    becomes a couple of messages whose tasks drain the backlog in batches)."""
    from workers.dispatch import broker_reachable, wake_moderation

    with app.app_context():
        if not broker_reachable():
            raise RuntimeError("the broker is not reachable")
        for comment_id in ids:
            wake_moderation(comment_id)


def _count(app: Flask, ids: list[int], column: str) -> int:
    from service.extensions import db
    from service.models import Comment

    with app.app_context():
        n = db.session.scalar(select(func.count()).where(
            Comment.id.in_(ids), getattr(Comment, column).is_not(None)))
        db.session.remove()
    return int(n or 0)


def wait_for(count: Callable[[], int], target: int, timeout: float,
             interval: float = 0.25) -> tuple[int, float]:
    """Poll until ``count()`` reaches ``target``; return (count, seconds waited)."""
    begin = time.monotonic()
    n = count()
    while n < target and time.monotonic() - begin < timeout:
        time.sleep(interval)
        n = count()
    return n, time.monotonic() - begin


def decisions_of(app: Flask, ids: list[int]) -> dict[str, int]:
    from service.extensions import db
    from service.models import Comment

    with app.app_context():
        rows = db.session.execute(select(Comment.status, func.count())
                                  .where(Comment.id.in_(ids)).group_by(Comment.status)).all()
        db.session.remove()
    return {str(status): int(n) for status, n in rows}


def _checked_spread(app: Flask, ids: list[int]) -> float:
    from service.extensions import db
    from service.models import Comment

    with app.app_context():
        first, last = db.session.execute(
            select(func.min(Comment.checked_at), func.max(Comment.checked_at))
            .where(Comment.id.in_(ids))).one()
        db.session.remove()
    return (last - first).total_seconds() if first and last else 0.0


def worker_ready(app: Flask, bodies: list[str], timeout: float) -> float:
    """Warm the worker (models load in each child): a few comments decided end to end."""
    ids = insert_comments(app, bodies, "warm")
    begin = time.monotonic()
    enqueue(app, ids)
    n, _ = wait_for(lambda: _count(app, ids, "checked_at"), len(ids), timeout)
    if n < len(ids):
        raise RuntimeError(f"the worker checked {n} of {len(ids)} warm-up comments "
                           f"in {timeout:.0f}s")
    return time.monotonic() - begin


@dataclass(frozen=True)
class Throughput:
    concurrency: int
    comments: int
    insert_s: float
    enqueue_s: float
    wall_s: float  # first send to last check seen (or to the time limit)
    per_second: float  # checked / wall_s
    steady_per_second: float  # from the spread of checked_at in the database
    finished: int
    decisions: dict[str, int]


def throughput(app: Flask, concurrency: int, ids: list[int], insert_s: float,
               timeout: float) -> Throughput:
    """Send every task at once; time until every comment is checked (or ``timeout``)."""
    begin = time.monotonic()
    enqueue(app, ids)
    enqueued = time.monotonic()
    finished, _ = wait_for(lambda: _count(app, ids, "checked_at"), len(ids), timeout)
    wall = time.monotonic() - begin
    spread = _checked_spread(app, ids)
    return Throughput(
        concurrency=concurrency, comments=len(ids), insert_s=insert_s,
        enqueue_s=enqueued - begin, wall_s=wall, per_second=finished / wall,
        steady_per_second=(finished - 1) / spread if spread else 0.0, finished=finished,
        decisions=decisions_of(app, ids))


@dataclass(frozen=True)
class Latency:
    target_rate: float
    sent: int
    failed: int
    achieved_rate: float
    submit_p50_ms: float
    submit_p99_ms: float
    decided: int
    # None when that percentile is among the undecided: then it is over ``undecided_over_s``
    decision_p50_s: float | None
    decision_p99_s: float | None
    decision_max_s: float | None
    undecided_over_s: float
    decisions: dict[str, int]


def _post(port: int, source: str, body: dict[str, object]) -> tuple[int, float, int | None]:
    """One submit on a new connection from ``source`` (any 127/8 address is loopback), as
    a browser would: each reader has an address, so the per-address burst rule stays
    quiet."""
    begin = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/sites/demo/comments", json.dumps(body),
                     {"Content-Type": "application/json", "Origin": "http://127.0.0.1:8000"})
        response = conn.getresponse()
        payload = response.read()
    except (OSError, http.client.HTTPException):
        return 0, time.perf_counter() - begin, None
    finally:
        conn.close()
    comment_id = json.loads(payload).get("id") if response.status == 202 else None
    return response.status, time.perf_counter() - begin, comment_id


def paced_submits(app: Flask, port: int, rate: float, seconds: float, bodies: list[str],
                  article: str, wait: float) -> Latency:
    """Open-loop submits at ``rate``/s for ``seconds`` (a client thread pool keeps the
    schedule; it slips only when the server holds every client thread), then
    decided_at - created_at from the database, waiting ``wait`` s after the last submit."""
    from service.extensions import db
    from service.models import Comment, utcnow

    total = round(rate * seconds)
    start = time.monotonic() + 0.2
    results: list[tuple[int, float, int | None]] = []
    sent_at: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with lock:
            sent_at.append(time.monotonic())
        source = f"127.1.{(i // 250) % 250}.{i % 250 + 1}"
        body = {"article": article, "author_name": f"Paced {i}", "body": bodies[i],
                "elapsed_ms": 15_000}
        outcome = _post(port, source, body)
        with lock:
            results.append(outcome)

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(one, range(total)))
    span = max(sent_at) - min(sent_at) if len(sent_at) > 1 else 0.0
    ids = [cid for status, _, cid in results if status == 202 and cid is not None]
    submit_ms = [elapsed * 1000 for status, elapsed, _ in results if status == 202]
    done, _ = wait_for(lambda: _count(app, ids, "decided_at"), len(ids), wait)
    now = utcnow()
    with app.app_context():
        rows = db.session.execute(select(Comment.created_at, Comment.decided_at, Comment.status)
                                  .where(Comment.id.in_(ids))).all()
        db.session.remove()
    waits = [_seconds(row.created_at, row.decided_at) for row in rows]
    pending = [(now - row.created_at).total_seconds() for row in rows if row.decided_at is None]
    floor = min(pending, default=0.0)
    known = [w if w is not None else float("inf") for w in waits]

    def pct(p: float) -> float | None:
        value = percentile(known, p)
        return None if value == float("inf") else value

    return Latency(
        target_rate=rate, sent=len(results), failed=len(results) - len(ids),
        achieved_rate=(len(sent_at) - 1) / span if span else 0.0,
        submit_p50_ms=percentile(submit_ms, 50), submit_p99_ms=percentile(submit_ms, 99),
        decided=done, decision_p50_s=pct(50), decision_p99_s=pct(99),
        decision_max_s=pct(100), undecided_over_s=floor,
        decisions=dict(Counter(str(row.status) for row in rows)))


def _seconds(begin: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return (end - begin).total_seconds()
