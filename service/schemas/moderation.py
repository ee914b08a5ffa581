"""Moderator-facing schemas: queue filters, decisions, authors, audit, stats."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.domain.moderation import ACTIONS, MAX_BULK, QUEUES
from service.models.audit import AUDIT_ACTIONS
from service.schemas.common import ArticleKey, Instant, JsonBool, cursor_arg
from service.schemas.public import ID_RANGE, StrictSchema
from workers.checks import CHECK_NAMES

REASON = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=500))


class QueueQuerySchema(Schema):
    status = fields.Str(load_default="held", validate=validate.OneOf(QUEUES))
    site = fields.Str(load_default=None, validate=validate.Length(1, 64))
    article = ArticleKey(load_default=None)
    author = fields.Int(load_default=None, validate=ID_RANGE)
    check = fields.Str(load_default=None, validate=validate.OneOf(CHECK_NAMES),
                       metadata={"description": "only comments where this check fired"})
    since = Instant(load_default=None)
    until = Instant(load_default=None)
    order = fields.Str(load_default="oldest", validate=validate.OneOf(["oldest", "newest"]))
    cursor = cursor_arg()
    limit = fields.Int(load_default=50, validate=validate.Range(1, 200))


class CheckOutSchema(Schema):
    name = fields.Str()
    version = fields.Str()
    score = fields.Float()
    label = fields.Str()
    reasons = fields.List(fields.Str())
    may_reject = fields.Bool(metadata={"description": "false: this score can hold the "
                                       "comment for a human, never reject it"})


class FlagItemSchema(Schema):
    reason = fields.Str()
    note = fields.Str(allow_none=True)
    counted = fields.Bool(metadata={"description": "false: the same address had reported "
                                    "this comment already, so it did not add to flag_count"})
    created_at = fields.DateTime()


class AuthorSchema(Schema):
    id = fields.Int()
    site = fields.Str()
    display_name = fields.Str()
    trust = fields.Str()
    banned_at = fields.DateTime(allow_none=True)
    ban_reason = fields.Str(allow_none=True)
    suspended_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    comments_by_status = fields.Dict(keys=fields.Str(), values=fields.Int())


class ParentSchema(Schema):
    id = fields.Int()
    author_name = fields.Str()
    body = fields.Str()
    status = fields.Str()


class ArticleRefSchema(Schema):
    key = fields.Str()
    title = fields.Str(allow_none=True)
    url = fields.Str(allow_none=True)


class QueueItemSchema(Schema):
    id = fields.Int()
    site = fields.Str()
    article = fields.Nested(ArticleRefSchema)
    parent = fields.Nested(ParentSchema, allow_none=True)
    author_name = fields.Str()
    body = fields.Str()
    html = fields.Str()
    status = fields.Str()
    status_reason = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    flag_count = fields.Int()
    flagged_at = fields.DateTime(allow_none=True)
    checks = fields.List(fields.Nested(CheckOutSchema))
    flags = fields.List(fields.Nested(FlagItemSchema))
    author = fields.Nested(AuthorSchema)


class QueuePageSchema(Schema):
    items = fields.List(fields.Nested(QueueItemSchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class DecisionSchema(StrictSchema):
    action = fields.Str(required=True, validate=validate.OneOf(sorted(ACTIONS)))
    reason = REASON


class DecisionOutSchema(Schema):
    changed = fields.Bool(required=True)
    comment = fields.Nested(QueueItemSchema, required=True)


class BulkDecisionSchema(DecisionSchema):
    ids = fields.List(fields.Int(strict=True, validate=ID_RANGE), required=True,
                      validate=validate.Length(1, MAX_BULK))


class BulkResultSchema(Schema):
    id = fields.Int()
    ok = fields.Bool()
    status = fields.Str()
    changed = fields.Bool()
    error = fields.Dict()


class BulkOutSchema(Schema):
    results = fields.List(fields.Nested(BulkResultSchema), required=True)


class BanSchema(StrictSchema):
    reason = REASON
    remove_pending = JsonBool(load_default=True)


class SuspendSchema(StrictSchema):
    until = Instant(required=True)
    reason = REASON


class ReasonSchema(StrictSchema):
    reason = REASON


class AuthorOutSchema(AuthorSchema):
    removed_pending = fields.Int()


class AuditQuerySchema(Schema):
    site = fields.Str(load_default=None, validate=validate.Length(1, 64))
    subject_type = fields.Str(load_default=None,
                              validate=validate.OneOf(["comment", "author", "site", "key",
                                                       "article", "webhook"]))
    subject_id = fields.Str(load_default=None, validate=validate.Length(1, 64))
    actor_type = fields.Str(load_default=None,
                            validate=validate.OneOf(["system", "author", "moderator", "admin"]))
    actor_id = fields.Str(load_default=None, validate=validate.Length(1, 64))
    action = fields.Str(load_default=None, validate=validate.OneOf(sorted(AUDIT_ACTIONS)),
                        metadata={"description": "an action as the entries name it, such "
                                  "as `comment.approved` or `author.banned`"})
    since = Instant(load_default=None)
    until = Instant(load_default=None, metadata={"description": "entries before this time"})
    cursor = cursor_arg()
    limit = fields.Int(load_default=100, validate=validate.Range(1, 500))


class AuditEntrySchema(Schema):
    id = fields.Int()
    site = fields.Str(attribute="site_id")
    subject_type = fields.Str()
    subject_id = fields.Str()
    action = fields.Str()
    from_status = fields.Str(allow_none=True)
    to_status = fields.Str(allow_none=True)
    actor_type = fields.Str()
    actor_id = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class StatsQuerySchema(Schema):
    site = fields.Str(load_default=None, validate=validate.Length(1, 64))
    days = fields.Int(load_default=14, validate=validate.Range(1, 90))


class StatsSchema(Schema):
    site = fields.Str()
    queues = fields.Dict(keys=fields.Str(), values=fields.Int())
    decisions_per_day = fields.List(fields.Dict())
    held_wait_seconds = fields.Dict()


class SimulateSchema(StrictSchema):
    site = fields.Str(load_default=None, validate=validate.Length(1, 64))
    text = fields.Str(required=True, validate=validate.Length(1, 100_000))
    parent_text = fields.Str(load_default=None, allow_none=True)
    author = fields.Int(strict=True, load_default=None, allow_none=True, validate=ID_RANGE,
                        metadata={"description": "judge as if this author posted it"})


class SimulateOutSchema(Schema):
    status = fields.Str()
    reason = fields.Str()
    decided_by = fields.Str()
    checks = fields.List(fields.Nested(CheckOutSchema))
    no_opinion = fields.List(fields.Str(), metadata={
        "description": "checks that gave no opinion: a remote provider that could not "
                       "answer (time-out, error), or site_spam on a site that has no "
                       "model of its own yet; the other checks decided without them"})
