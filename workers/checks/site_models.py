"""Which spam model each site has, for the ``site_spam`` check: the check's one DB door.

Checks are pure over ``CommentContext``; a site's model is the exception that needs the
database, and it is reached only through this registry (not by adding fields to the
context, which the pipeline and ``warden eval`` share): the check asks for a site id and
gets a loaded model or ``None``.

* Which version is current is read with one query for all sites at most every
  ``WARDEN_SITE_MODEL_REFRESH_SECONDS`` per process, so workers pick up a new model without
  a restart and without a query per comment.
* Loaded models are cached per process by (database, site, version), bounded; a new
  version is loaded once, on the first comment of its site after the refresh.
* The database is the app's engine (Flask app context: the worker, the simulate endpoint);
  without an app context (``warden eval``, the worker's warm-up) no site has a model.
* Reads use their own short connection as a plain (non-locking) SQLite transaction, so
  they never join or block the caller's transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from workers.checks.textmodel import LinearTextModel

log = logging.getLogger("warden.site_models")

DEFAULT_REFRESH_SECONDS = 30.0
MAX_MODELS = 64


@dataclass(frozen=True)
class LoadedSiteModel:
    site_id: str
    version: int
    model: LinearTextModel
    review_at: float
    reject_at: float
    n_spam: int
    n_ham: int


def _app_engine() -> tuple[Any, float] | None:
    """The current Flask app's engine and refresh interval, or None outside an app."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    from service.extensions import db

    settings = current_app.config.get("WARDEN")
    refresh = getattr(settings, "site_model_refresh_seconds", DEFAULT_REFRESH_SECONDS)
    return db.engine, float(refresh)


class SiteModelRegistry:
    """Per-process cache of the current model of each site (see the module docstring)."""

    def __init__(self, source: Callable[[], tuple[Any, float] | None] = _app_engine,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        # database URL -> (refreshed at, {site_id: latest version})
        self._versions: dict[str, tuple[float, dict[str, int]]] = {}
        self._models: OrderedDict[tuple[str, str, int], LoadedSiteModel | None] = OrderedDict()

    def clear(self) -> None:
        """Forget everything (tests; a process that must see a new model at once)."""
        with self._lock:
            self._versions.clear()
            self._models.clear()

    def current(self, site_id: str) -> LoadedSiteModel | None:
        """The site's latest model, or None when it has none (or no database is at hand)."""
        found = self._source()
        if found is None or not site_id:
            return None
        engine, refresh = found
        db_key = engine.url.render_as_string(hide_password=True)
        with self._lock:
            version = self._latest_versions(engine, db_key, refresh).get(site_id)
            if version is None:
                return None
            key = (db_key, site_id, version)
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loaded = self._load(engine, site_id, version)
            self._models[key] = loaded
            while len(self._models) > MAX_MODELS:
                self._models.popitem(last=False)
            return loaded

    def _latest_versions(self, engine: Any, db_key: str, refresh: float) -> dict[str, int]:
        now = self._clock()
        cached = self._versions.get(db_key)
        if cached is not None and now - cached[0] < refresh:
            return cached[1]
        from service.models import SiteModel
        from service.sqlite import reading

        try:
            with reading(), engine.connect() as conn:
                rows = conn.execute(select(SiteModel.site_id, func.max(SiteModel.version))
                                    .group_by(SiteModel.site_id)).all()
        except Exception:
            if cached is None:
                raise
            # Keep serving the models we know; the next call tries again.
            log.warning("could not refresh site model versions; keeping the last known",
                        exc_info=True)
            return cached[1]
        versions = {site: int(version) for site, version in rows}
        self._versions[db_key] = (now, versions)
        return versions

    def _load(self, engine: Any, site_id: str, version: int) -> LoadedSiteModel | None:
        """Load one version; a broken artefact is logged and the site gets no opinion."""
        from service.models import SiteModel
        from service.sqlite import reading

        with reading(), engine.connect() as conn:
            row = conn.execute(select(SiteModel.artefact, SiteModel.review_at,
                                      SiteModel.reject_at, SiteModel.n_spam, SiteModel.n_ham)
                               .where(SiteModel.site_id == site_id,
                                      SiteModel.version == version)).first()
        if row is None:  # pruned meanwhile: look again at the next refresh
            return None
        try:
            model = LinearTextModel.from_bytes(bytes(row.artefact))
        except Exception:
            log.exception("site %s model v%d cannot be loaded; the site_spam check gives "
                          "no opinion on its comments", site_id, version)
            return None
        return LoadedSiteModel(site_id, version, model, float(row.review_at),
                               float(row.reject_at), int(row.n_spam), int(row.n_ham))


registry = SiteModelRegistry()
