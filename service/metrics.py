"""Prometheus metrics: HTTP traffic per process, moderation state read from the database.

Under gunicorn every worker process counts its own requests; with
``PROMETHEUS_MULTIPROC_DIR`` set (``warden web`` does it) a scrape of any process sums
them all. Queue depth and decisions are read from the database at scrape time, so they are
right whichever process (web or worker) made them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

REQUESTS = Counter("warden_http_requests_total", "HTTP requests answered",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("warden_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["method", "endpoint"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

# Counted in the process that made the call (simulate in the web; moderation in the worker,
# which Prometheus sees only through PROMETHEUS_MULTIPROC_DIR shared with a web process).
REMOTE_NO_OPINION = Counter("warden_remote_no_opinion_total",
                            "Remote provider calls that gave no opinion (time-out, error)",
                            ["provider", "reason"])


class ModerationCollector(Collector):
    """Gauges computed from the database at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, and whether the database answered: without it the scrape still
        serves this process's request counters (wanted most during an outage)."""
        from sqlalchemy.exc import SQLAlchemyError

        from service.extensions import db

        try:
            gauges = list(self._from_database())
        except SQLAlchemyError:
            with self.app.app_context():
                db.session.rollback()
            gauges = []
        yield from gauges
        yield GaugeMetricFamily("warden_database_up",
                                "1 when the database answered this scrape's queries",
                                value=1.0 if gauges else 0.0)

    def _from_database(self) -> Iterator[GaugeMetricFamily]:
        from service.extensions import db
        from service.models import Comment, CommentStatus, Event, utcnow

        with self.app.app_context():
            comments = GaugeMetricFamily("warden_comments", "Comments by site and status",
                                         labels=["site", "status"])
            for site, status, count in db.session.execute(
                select(Comment.site_id, Comment.status, func.count())
                .group_by(Comment.site_id, Comment.status)
            ):
                comments.add_metric([site, str(status)], count)
            yield comments
            backlog, oldest = db.session.execute(
                select(func.count(), func.min(Comment.created_at))
                # What the worker and the sweep wait on: a comment deleted while waiting
                # is never checked, and would count (and age) for ever.
                .where(Comment.checked_at.is_(None), Comment.status != CommentStatus.DELETED)
            ).one()
            yield GaugeMetricFamily("warden_moderation_backlog",
                                    "Comments whose checks have not finished", value=backlog)
            age = (utcnow() - _aware(oldest)).total_seconds() if oldest else 0.0
            yield GaugeMetricFamily("warden_moderation_oldest_waiting_seconds",
                                    "Age of the oldest comment still waiting for checks",
                                    value=age)
            undispatched = db.session.scalar(select(func.count()).select_from(Event)
                                             .where(Event.dispatched_at.is_(None)))
            yield GaugeMetricFamily("warden_outbox_undispatched",
                                    "Events not yet fanned out to webhooks", value=undispatched)
            yield from _webhook_gauges(db.session)
            yield from _report_gauges(db.session)
            db.session.remove()


def _aware(value: Any) -> Any:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _webhook_gauges(session: Any) -> Iterator[GaugeMetricFamily]:
    try:
        from service.models import Delivery
    except ImportError:  # webhooks not installed in this build
        return
    deliveries = GaugeMetricFamily("warden_webhook_deliveries", "Webhook deliveries by status",
                                   labels=["status"])
    for status, count in session.execute(select(Delivery.status, func.count())
                                         .group_by(Delivery.status)):
        deliveries.add_metric([str(status)], count)
    yield deliveries


def _report_gauges(session: Any) -> Iterator[GaugeMetricFamily]:
    from service.models import ProviderReport

    reports = GaugeMetricFamily("warden_provider_reports",
                                "Moderator verdicts reported to remote providers, by status",
                                labels=["provider", "status"])
    for provider, status, count in session.execute(
            select(ProviderReport.provider, ProviderReport.status, func.count())
            .group_by(ProviderReport.provider, ProviderReport.status)):
        reports.add_metric([provider, str(status)], count)
    yield reports


def init_metrics(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_count)
    app.add_url_rule("/metrics", "metrics", lambda: _expose(app))


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    return response


def _expose(app: Flask) -> Response:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
        registry.register(REMOTE_NO_OPINION)
    registry.register(ModerationCollector(app))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
