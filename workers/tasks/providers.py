"""Feedback tasks: thin routing onto service.domain.feedback; each receives ids only.

``report_to_providers`` makes one try of one spam/ham report (claimed in the database, so
duplicates are harmless); ``sweep_provider_reports`` (beat) sends the reports that are due:
retries whose time has come and tries whose task was lost.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from service.domain import feedback
from service.extensions import db
from workers.dispatch import REPORT_TASK, enqueue_report

log = logging.getLogger("warden.feedback")


@shared_task(name=REPORT_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=1, retry_backoff_max=30,
             max_retries=5)
def report_to_providers(report_id: int) -> str | None:
    """One try; the report row, not this task, says whether another is due and when."""
    status = feedback.send_report(db.session, report_id, current_app.config["WARDEN"])
    return None if status is None else str(status)


@shared_task(name="warden.sweep_provider_reports", ignore_result=True)
def sweep_provider_reports() -> int:
    ids = feedback.due_for_enqueue(db.session, current_app.config["WARDEN"])
    sent = sum(enqueue_report(report_id) for report_id in ids)
    if ids:
        log.info("feedback sweep sent %d of %d due reports", sent, len(ids))
    return sent
