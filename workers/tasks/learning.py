"""Beat job: refit the spam model of every site with enough new moderator labels."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from service.extensions import db
from workers.site_training import NotEnoughLabels, sites_due, train_site_model

log = logging.getLogger("warden.learning")


@shared_task(name="warden.retrain_site_models", ignore_result=True)
def retrain_site_models() -> list[str]:
    """Retrain sites with WARDEN_RETRAIN_MIN_NEW_LABELS labels since their last model.

    A site that still lacks labels of one class is skipped quietly and looked at again
    next time; one site's failure does not stop the others.
    """
    settings = current_app.config["WARDEN"]
    trained: list[str] = []
    for site_id in sites_due(db.session, settings.retrain_min_new_labels):
        try:
            report = train_site_model(db.session, site_id, trained_by="beat",
                                      min_examples=settings.train_min_examples)
        except NotEnoughLabels as exc:
            db.session.rollback()
            log.info("site %s not retrained: %s", site_id, exc)
            continue
        except Exception:
            db.session.rollback()
            log.exception("retraining site %s failed", site_id)
            continue
        trained.append(f"{site_id}:v{report.version}")
    db.session.rollback()
    return trained
