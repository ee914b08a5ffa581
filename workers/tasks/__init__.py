"""Celery tasks: thin routing onto domain code; each receives ids only."""

from workers.tasks import learning, moderation, providers, sweeps, webhooks

__all__ = ["learning", "moderation", "providers", "sweeps", "webhooks"]
