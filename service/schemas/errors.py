"""The one error shape every 4xx/5xx answer uses."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields as f


class ErrorBodySchema(Schema):
    code = f.Str(required=True, metadata={"description": "stable machine-readable code"})
    message = f.Str(required=True, metadata={"description": "what went wrong, in words"})
    fields = f.Dict(
        keys=f.Str(), values=f.Raw(),
        metadata={"description": "per-field messages for validation errors"},
    )
    request_id = f.Str(metadata={"description": "quote it when reporting a problem"})


class ErrorSchema(Schema):
    error = f.Nested(ErrorBodySchema, required=True)
