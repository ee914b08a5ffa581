"""Celery tasks: thin routing onto domain code; each receives ids only."""

from workers.tasks import learning, moderation, sweeps, webhooks

__all__ = ["learning", "moderation", "sweeps", "webhooks"]
