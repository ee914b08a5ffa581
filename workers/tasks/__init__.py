"""Celery tasks: thin routing onto domain code; each receives ids only."""

from workers.tasks import moderation, sweeps, webhooks

__all__ = ["moderation", "sweeps", "webhooks"]
