"""The API's blueprint class: flask-smorest's, with one argument schema per route."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask import request
from marshmallow import Schema, fields

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: type[Schema] | Schema, *args: Any, **kwargs: Any) -> Any:
        """Instantiate a schema class once, here: given the class, webargs builds (and
        deep-copies the fields of) a new schema on every request. Loading keeps no state
        on the instance, so one serves every request and thread."""
        if isinstance(schema, type):
            schema = schema()
        decorator = super().arguments(schema, *args, **kwargs)
        if kwargs.get("location") != "query":
            return decorator
        single = {field.data_key or name for name, field in schema.fields.items()
                  if not isinstance(field, fields.List)}

        def refusing_repeats(view: F) -> F:
            parsed = decorator(view)

            @functools.wraps(parsed)
            def checked(*args: Any, **kwargs: Any) -> Any:
                # Given twice, a one-value parameter would be read as its first value:
                # ``?status=held&status=spam`` would look filtered by both and answer one.
                repeated = sorted(name for name in single if len(request.args.getlist(name)) > 1)
                if repeated:
                    flask_smorest.abort(422, messages={"query": {
                        name: ["Given more than once; this parameter takes one value."]
                        for name in repeated}})
                return parsed(*args, **kwargs)

            return checked  # type: ignore[return-value]

        return refusing_repeats


def no_query_params(view: F) -> F:
    """For a route that takes no query parameters: one sent anyway is a mistake the caller
    must hear about (422, like the routes with a query schema), not a filter silently
    ignored (``GET /sites?site=demo`` would list every site)."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _refuse_query_params()
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]


def no_input(view: F) -> F:
    """For an action that takes neither query parameters nor a body (a ping, a redelivery,
    a delete): what is sent anyway is refused (422) instead of ignored, since a caller who
    sends ``{"event_type": ...}`` to a ping expects it to mean something. An empty body and
    ``{}`` are no input."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _refuse_query_params()
        data = request.get_data(cache=True) if request.method in _BODY_METHODS else b""
        if data.strip():
            try:
                doc = json.loads(data)
            except ValueError:
                flask_smorest.abort(400, messages={"json": ["Invalid JSON body."]})
            if doc != {}:
                flask_smorest.abort(422, messages={"json": (
                    {name: ["Unknown field."] for name in sorted(doc)}
                    if isinstance(doc, dict)
                    else {"_schema": ["This request takes no body: send none, or {}."]})})
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refuse_query_params() -> None:
    if request.args:
        flask_smorest.abort(422, messages={"query": {
            name: ["Unknown field."] for name in sorted(request.args)}})
