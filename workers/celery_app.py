"""The worker and beat entry point: ``celery -A workers.celery_app:celery``."""

from config import Settings
from workers.celery_setup import make_celery

celery = make_celery(Settings.from_env())
