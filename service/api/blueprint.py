"""The API's blueprint class: flask-smorest's, with one argument schema per route."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask import request
from marshmallow import Schema

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: type[Schema] | Schema, *args: Any, **kwargs: Any) -> Any:
        """Instantiate a schema class once, here: given the class, webargs builds (and
        deep-copies the fields of) a new schema on every request. Loading keeps no state
        on the instance, so one serves every request and thread."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


def no_query_params(view: F) -> F:
    """For a route that takes no query parameters: one sent anyway is a mistake the caller
    must hear about (422, like the routes with a query schema), not a filter silently
    ignored (``GET /sites?site=demo`` would list every site)."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if request.args:
            flask_smorest.abort(422, messages={"query": {
                name: ["Unknown field."] for name in sorted(request.args)}})
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]
