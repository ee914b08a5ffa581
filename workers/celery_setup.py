"""Building the Celery app from the same Settings as the web app.

Queues and periodic jobs are named here and nowhere else. Tasks run inside an app context
of the very app the web process builds, so models and lifecycle code are shared.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_process_init

from config import Settings
from service.logs import request_id_var
from service.sqlite import intends_to_write
from workers.dispatch import (
    DELIVER_WEBHOOK_TASK,
    DISPATCH_EVENTS_TASK,
    QUEUE_HOUSEKEEPING,
    QUEUE_MODERATION,
    QUEUE_WEBHOOKS,
    REPORT_TASK,
)

RETRAIN_SITE_MODELS_TASK = "warden.retrain_site_models"


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("filesystem"):
        folder = settings.broker_folder
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "control_folder": str(folder / "control"),
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
    # Redis: an unacked task comes back after this; the sweep is the faster safety net.
    return {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}


def make_celery(settings: Settings, *, set_as_current: bool = True) -> Celery:
    """The worker's app (``set_as_current``) or a web process's producer-only twin."""
    app = Celery("warden", broker=settings.broker_url, include=["workers.tasks"],
                 task_cls=_app_context_task(settings), set_as_current=set_as_current)
    app.conf.update(
        broker_transport_options=broker_options(settings),
        # filesystem://: kombu's transport with atomic message files (see workers/fsbroker.py)
        broker_transport=("workers.fsbroker:Transport"
                          if settings.broker_url.startswith("filesystem") else None),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=4,
        task_default_queue=QUEUE_MODERATION,
        task_routes={"warden.sweep_*": {"queue": QUEUE_HOUSEKEEPING},
                     "warden.prune_history": {"queue": QUEUE_HOUSEKEEPING},
                     # Training takes seconds: never in front of comments waiting for checks.
                     RETRAIN_SITE_MODELS_TASK: {"queue": QUEUE_HOUSEKEEPING},
                     DISPATCH_EVENTS_TASK: {"queue": QUEUE_WEBHOOKS},
                     DELIVER_WEBHOOK_TASK: {"queue": QUEUE_WEBHOOKS},
                     REPORT_TASK: {"queue": QUEUE_WEBHOOKS}},
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        beat_schedule={
            "forget-addresses": {
                "task": "warden.forget_addresses",
                "schedule": 3600.0,
                "options": {"expires": 3600.0},
            },
            # Finished webhook and provider history past WARDEN_HISTORY_RETENTION_DAYS.
            "prune-history": {
                "task": "warden.prune_history",
                "schedule": 3600.0,
                "options": {"expires": 3600.0},
            },
            "sweep-moderation": {
                "task": "warden.sweep_moderation",
                "schedule": settings.sweep_interval_seconds,
                "options": {"expires": settings.sweep_interval_seconds * 2},
            },
            # Sites with WARDEN_RETRAIN_MIN_NEW_LABELS new moderator labels get a new model.
            "retrain-site-models": {
                "task": RETRAIN_SITE_MODELS_TASK,
                "schedule": settings.retrain_interval_seconds,
                "options": {"expires": settings.retrain_interval_seconds},
            },
            # Due webhook retries and lost deliveries; retry times live in the database.
            "sweep-webhooks": {
                "task": "warden.sweep_webhooks",
                "schedule": settings.sweep_interval_seconds,
                "options": {"expires": settings.sweep_interval_seconds * 2},
            },
            # Spam/ham reports to remote providers: due retries and lost sends.
            "sweep-provider-reports": {
                "task": "warden.sweep_provider_reports",
                "schedule": settings.sweep_interval_seconds,
                "options": {"expires": settings.sweep_interval_seconds * 2},
            },
        },
    )
    return app


def _app_context_task(settings: Settings) -> type[Task]:
    flask_app: dict[str, Any] = {}
    # The webhook worker runs tasks in threads: the first tasks must not each build an app
    # (and a connection pool) of their own.
    building = threading.Lock()

    class AppContextTask(Task):
        """Run every task inside the Flask app, built once per process."""

        abstract = True

        @staticmethod
        def flask_app() -> Any:
            if "app" not in flask_app:
                with building:
                    if "app" not in flask_app:
                        from service.app import create_app

                        flask_app["app"] = create_app(settings)
            return flask_app["app"]

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with self.flask_app().app_context(), intends_to_write():
                return self.run(*args, **kwargs)

    return AppContextTask


@worker_process_init.connect
def _warm_up(**_: Any) -> None:
    """Load the models in each child before the first comment arrives, not during it.

    The Flask app (and its engine) is built lazily inside the child, so no pooled database
    connection ever crosses the prefork fork.
    """
    from celery import current_app

    from workers.checks import CommentContext, default_checks
    from workers.pipeline import run_checks

    current_app.Task.flask_app()
    run_checks(default_checks(), [CommentContext(text="warm-up")])


@task_prerun.connect
def _bind_request_id(task: Task | None = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    request_id_var.set(getattr(request, "warden_request_id", None) if request else None)


@task_postrun.connect
def _clear_request_id(**_: Any) -> None:
    # The session itself is removed when the task's app context ends (Flask-SQLAlchemy).
    request_id_var.set(None)
