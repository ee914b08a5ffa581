"""Webhook admin schemas: endpoints, secrets, deliveries and their attempts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.domain.webhooks.endpoints import rotation_ends
from service.models import DeliveryStatus, WebhookEndpoint
from service.schemas.common import Instant, JsonBool, JsonFloat, cursor_arg
from service.schemas.public import ChangeSchema, StrictSchema

EVENT_TYPES_HELP = ("event types (comment.approved, ...), group wildcards (comment.*) or "
                    "'*' for all")


def event_types(*, required: bool = False) -> fields.List:
    return fields.List(fields.Str(validate=validate.Length(1, 60)), required=required,
                       validate=validate.Length(1, 50),
                       metadata={"description": EVENT_TYPES_HELP})


def endpoint_url(*, required: bool = False) -> fields.Str:
    return fields.Str(required=required, validate=validate.Length(1, 2048),
                      metadata={"description": "https URL; must reach a public address"})


class WebhookCreateSchema(StrictSchema):
    url = endpoint_url(required=True)
    event_types = event_types(required=True)
    description = fields.Str(load_default="", validate=validate.Length(max=500))
    enabled = JsonBool(load_default=True)


class WebhookPatchSchema(ChangeSchema):
    url = endpoint_url()
    event_types = event_types()
    description = fields.Str(validate=validate.Length(max=500))
    enabled = JsonBool(metadata={"description": "false pauses the endpoint (its pending "
                                                   "deliveries fail); true clears a disable"})


class RotateSecretSchema(StrictSchema):
    overlap_hours = JsonFloat(load_default=24.0, validate=validate.Range(0, 168), metadata={
        "description": "how long the old secret still signs (both signatures are sent)"})


class RedeliverRangeSchema(StrictSchema):
    since = Instant(required=True)
    until = Instant(load_default=None, allow_none=True)
    status = fields.Str(load_default="failed",
                        validate=validate.OneOf(["failed", "succeeded", "all"]))


class DeliveryQuerySchema(Schema):
    status = fields.Str(load_default=None,
                        validate=validate.OneOf([str(s) for s in DeliveryStatus]))
    cursor = cursor_arg()
    limit = fields.Int(load_default=50, validate=validate.Range(1, 200))


class WebhookSchema(Schema):
    id = fields.Int()
    site = fields.Str(attribute="site_id")
    url = fields.Str()
    description = fields.Str()
    event_types = fields.List(fields.Str())
    enabled = fields.Bool()
    disabled_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.Str(allow_none=True, metadata={
        "description": "why the endpoint was disabled (410 Gone, failing too long, an admin)"})
    failing_since = fields.DateTime(allow_none=True, metadata={
        "description": "start of the current run of failed tries; null after a success"})
    last_success_at = fields.DateTime(allow_none=True)
    last_failure_at = fields.DateTime(allow_none=True)
    previous_secret_expires_at = fields.Method("_rotation_ends", allow_none=True, metadata={
        "description": "while a rotation overlap runs, when the old secret stops signing"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _rotation_ends(self, endpoint: WebhookEndpoint) -> str | None:
        ends = rotation_ends(endpoint)
        return ends.isoformat() if ends else None


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.Str(required=True, metadata={
        "description": "whsec_...: shown once; the receiver verifies signatures with it"})


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema), required=True)


class SecretRotatedSchema(Schema):
    secret = fields.Str(required=True, metadata={"description": "the new secret, shown once"})
    previous_secret_expires_at = fields.DateTime(allow_none=True)


class AttemptSchema(Schema):
    id = fields.Int()
    attempted_at = fields.DateTime()
    succeeded = fields.Bool()
    status_code = fields.Int(allow_none=True)
    duration_ms = fields.Int()
    error = fields.Str(allow_none=True)
    response_body = fields.Str(allow_none=True, metadata={"description": "its start only"})
    remote_address = fields.Str(allow_none=True)


class DeliverySchema(Schema):
    id = fields.Int()
    endpoint_id = fields.Int()
    event_id = fields.Str(metadata={"description": "the webhook-id receivers de-duplicate on"})
    event_type = fields.Str(attribute="event.type")
    status = fields.Str()
    tries = fields.Int(metadata={"description": "tries in the current round"})
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Int(allow_none=True)
    last_error = fields.Str(allow_none=True)
    succeeded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DeliveryDetailSchema(DeliverySchema):
    payload = fields.Dict(attribute="event.payload")
    attempts = fields.List(fields.Nested(AttemptSchema))


class DeliveryPageSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class RedeliveredSchema(Schema):
    redelivered = fields.Int(required=True)
    delivery_ids = fields.List(fields.Int(), required=True)
    more = fields.Bool(required=True, metadata={
        "description": "more deliveries matched than one call redelivers; call again"})
