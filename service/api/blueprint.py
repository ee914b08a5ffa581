"""The API's blueprint class: flask-smorest's, with one argument schema per route."""

from __future__ import annotations

from typing import Any

import flask_smorest
from marshmallow import Schema


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: type[Schema] | Schema, *args: Any, **kwargs: Any) -> Any:
        """Instantiate a schema class once, here: given the class, webargs builds (and
        deep-copies the fields of) a new schema on every request. Loading keeps no state
        on the instance, so one serves every request and thread."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)
