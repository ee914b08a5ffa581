"""Celery tasks: thin routing onto domain code; each receives ids only."""

from workers.tasks import moderation, providers, sweeps, webhooks

__all__ = ["moderation", "providers", "sweeps", "webhooks"]
