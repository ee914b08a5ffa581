"""Commit without enqueue (the broker is unreachable from the web), and rollback without it."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.models import Article, AuditEntry, Author, Comment, Event
from tests.fault.checks import (
    SUBMIT,
    accepted_ids,
    assert_counts_match_recount,
    assert_decided_once,
    assert_nothing_half_written,
    body_for,
    call,
    post_comment,
    submit_many,
    summary,
    wait_all_final,
)
from tests.fault.conftest import FaultStack, redis_client

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.worker, pytest.mark.postgres,
              pytest.mark.redis]

CLOSED_BROKER = "redis://127.0.0.1:1/0"
LOST = 30


def test_unreachable_broker_still_202_and_the_sweep_recovers(production: FaultStack) -> None:
    """With its broker unreachable the web still answers every submit 202 at once (the wake
    fails fast and is logged with the comment it named); nothing reaches the real queue,
    and a worker + beat on the real Redis get all of them decided, once, from the
    database."""
    stack, app = production, production.flask
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 1)) != 0, "port 1 is open; pick a closed port"
    web = stack.start_web(WARDEN_BROKER_URL=CLOSED_BROKER).wait_ready("/healthz")
    with web.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert (checks["database"], checks["broker"]) == ("ok", "unreachable")

    answers = submit_many(web.base_url, "lost", LOST, threads=4)
    assert summary(answers) == {"202": LOST}, summary(answers)
    slowest = max(a.took for a in answers)
    assert slowest < 2, f"a submit took {slowest:.2f}s with the broker down"
    ids = accepted_ids(answers)
    logged = _unsent_comment_ids(web.process.log_path.read_text(errors="replace"))
    # Wakes are debounced (one send per 50 ms per process), so not every comment is named.
    assert logged, "no failed wake was logged"
    assert logged <= set(ids), f"logged ids that were never submitted: {logged - set(ids)}"
    assert redis_client(stack.settings).llen("moderation") == 0

    stack.start("worker")
    stack.start("beat")
    took = wait_all_final(app, ids, 90, "the sweep to send the unsent comments")
    assert_decided_once(app, ids)
    assert_counts_match_recount(app)
    assert_nothing_half_written(app)
    print(f"\n{LOST} submits with the broker unreachable: all 202, slowest {slowest * 1000:.0f} "
          f"ms, {len(logged)} failed sends logged; all decided {took:.1f}s after worker + beat "
          "started")


def _unsent_comment_ids(log: str) -> set[int]:
    """Comment ids named by the web's 'broker unavailable' warnings (JSON log lines)."""
    found = set()
    for line in log.splitlines():
        if line.startswith("{") and "broker unavailable" in line:
            record: dict[str, Any] = json.loads(line)
            if "comment_id" in record:
                found.add(int(record["comment_id"]))
    return found


def test_rolled_back_submit_enqueues_nothing(production: FaultStack) -> None:
    """A submit refused after it wrote to the database (a new article, then a parent from
    another article) leaves no row behind and sends no task; a good submit sends one."""
    stack, app = production, production.flask
    web = stack.web()  # no worker: whatever is sent stays countable in Redis
    queues = redis_client(stack.settings)

    def lengths() -> dict[bytes, int]:
        return {key: queues.llen(key) for key in queues.scan_iter()
                if queues.type(key) == b"list"}

    def rows() -> dict[str, int]:
        with app.app_context():
            found = {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                     for model in (Article, Comment, Author, AuditEntry, Event)}
            db.session.remove()
        return found

    with web.client() as client:
        good = post_comment(client, "rollback", 0, "rollback-story")
        assert good.status == 202, good
        queued, stored = lengths(), rows()
        bad = call(client, 1, "submit", "POST", SUBMIT, json={
            "article": "rollback-new-article", "body": body_for("rollback", 1),
            "parent_id": good.doc["id"]})
    assert queued.get(b"moderation") == 1, queued
    assert bad.status == 400, bad
    assert "parent_id" in bad.doc["error"]["fields"]
    assert lengths() == queued, "the refused submit sent a task"
    assert rows() == stored, "the refused submit left rows behind"
    with app.app_context():
        assert db.session.scalar(select(Article).where(
            Article.key == "rollback-new-article")) is None
        db.session.remove()
    print(f"\nrefused submit: {bad.status} {bad.doc['error']['fields']}; queues {queued} and "
          f"row counts {stored} unchanged")
