"""The one error shape every 4xx/5xx answer uses."""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorBodySchema(Schema):
    code = fields.Str(required=True, metadata={"description": "stable machine-readable code"})
    message = fields.Str(required=True, metadata={"description": "what went wrong, in words"})
    fields = fields.Dict(
        keys=fields.Str(), values=fields.Raw(),
        metadata={"description": "per-field messages for validation errors"},
    )
    request_id = fields.Str()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)
