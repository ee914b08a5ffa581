"""Widget-facing schemas. Input schemas reject unknown fields; output schemas document."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.models import FlagReason
from service.schemas.common import ArticleKey, RequestedArticleKey, cursor_arg

# Ids are database integers: larger numbers cannot name anything (and must not overflow).
ID_RANGE = validate.Range(min=1, max=2**31 - 1)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ChangeSchema(StrictSchema):
    """A PATCH (or a PUT of named parts) must name something to change: ``{}`` is a 422
    that lists the fields, where it was a 200 that changed nothing on some routes."""

    @validates_schema
    def something_to_change(self, data: dict[str, object], **_: object) -> None:
        if not data:
            raise ValidationError(f"send at least one of {', '.join(self.load_fields)}",
                                  "_schema")


class SubmitSchema(StrictSchema):
    article = ArticleKey(required=True, metadata={
        "description": "the site's key for the article (slug or URL)"})
    article_url = fields.Url(load_default=None, allow_none=True,
                             validate=validate.Length(max=2048), schemes={"http", "https"})
    article_title = fields.Str(load_default=None, allow_none=True,
                               validate=validate.Length(max=300))
    parent_id = fields.Int(load_default=None, allow_none=True, strict=True, validate=ID_RANGE)
    author_name = fields.Str(load_default="", validate=validate.Length(1, 80), metadata={
        "description": "shown with the comment; omitted: \"Anonymous\" for a new author, "
                       "the name the author token's author already has otherwise"})
    author_email = fields.Email(load_default=None, allow_none=True,
                                validate=validate.Length(max=254))
    body = fields.Str(required=True, validate=validate.Length(min=1),
                      metadata={"description": "plain text or Markdown; raw HTML is shown as "
                                "text. At most `max_body_chars` (GET /sites/{site}) code points "
                                "once control characters are dropped and the ends trimmed; "
                                "longer, or nothing visible left, is a 422"})
    website = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=500),
                         metadata={"description": "honeypot: the widget leaves it empty"})
    elapsed_ms = fields.Int(load_default=None, allow_none=True, strict=True,
                            validate=validate.Range(min=0, max=86_400_000),
                            metadata={"description": "ms between the form showing and submit"})


class AcceptedSchema(Schema):
    id = fields.Int(required=True)
    status = fields.Str(required=True)
    author_token = fields.Str(required=True,
                              metadata={"description": "keep it: it shows and edits your comments"})
    article = fields.Str(required=True)
    parent_id = fields.Int(allow_none=True)
    created_at = fields.DateTime(required=True)
    status_url = fields.Str(required=True)


class ThreadQuerySchema(Schema):
    article = ArticleKey(required=True)
    sort = fields.Str(load_default="oldest", validate=validate.OneOf(["oldest", "newest"]))
    cursor = cursor_arg()
    limit = fields.Int(load_default=None, validate=validate.Range(1, 200))


class ThreadCommentSchema(Schema):
    id = fields.Int(required=True)
    parent_id = fields.Int(allow_none=True)
    author_name = fields.Str(required=True, allow_none=True)
    html = fields.Str(required=True, metadata={"description": "sanitised HTML"})
    deleted = fields.Bool(required=True, metadata={
        "description": "a placeholder (deleted by its author, or a removed top-level "
                       "comment) kept because approved replies hang from it: no text, no "
                       "author"})
    created_at = fields.DateTime(required=True)
    replies = fields.List(fields.Nested(lambda: ThreadCommentSchema()), required=True)


class ArticleSchema(Schema):
    key = fields.Str(required=True)
    url = fields.Str(allow_none=True)
    title = fields.Str(allow_none=True)
    is_open = fields.Bool(required=True, metadata={
        "description": "takes comments now: not closed by a moderator, nor past closes_at"})
    closes_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the site's close_after_days closes it (counted from the first "
                       "comment); null when the site sets no limit"})
    approved_count = fields.Int(required=True)


class ThreadSchema(Schema):
    article = fields.Nested(ArticleSchema, required=True)
    comments = fields.List(fields.Nested(ThreadCommentSchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class CountsQuerySchema(Schema):
    article = fields.List(RequestedArticleKey(), required=True, validate=validate.Length(1, 100))


class CountsSchema(Schema):
    counts = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)


class OwnCommentSchema(Schema):
    id = fields.Int(required=True)
    site = fields.Str(required=True, attribute="site_id")
    article = fields.Str(required=True, attribute="article.key")
    parent_id = fields.Int(allow_none=True)
    author_name = fields.Str(required=True)
    body = fields.Str(required=True)
    html = fields.Str(required=True)
    status = fields.Str(required=True)
    message = fields.Str(required=True, metadata={"description": "the status, in words"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)


class SiteInfoSchema(Schema):
    id = fields.Str(required=True)
    name = fields.Str(required=True)
    mode = fields.Str(required=True)
    max_body_chars = fields.Int(required=True)
    max_depth = fields.Int(required=True)
    edit_window_seconds = fields.Int(required=True)
    origin_allowed = fields.Bool(required=True, allow_none=True, metadata={
        "description": "whether the request's Origin may use the site's comments (it is "
                       "in allowed_origins); null for a request without Origin"})


class EditSchema(StrictSchema):
    body = fields.Str(required=True, validate=validate.Length(min=1))


class FlagInSchema(StrictSchema):
    reason = fields.Str(required=True, validate=validate.OneOf([r.value for r in FlagReason]))
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class FlagOutSchema(Schema):
    comment_id = fields.Int(required=True)
    reason = fields.Str(required=True)
    counted = fields.Bool(required=True, metadata={
        "description": "false: a report from this address counts already; this one is kept "
                       "for the moderators but does not count towards the site's threshold"})
    created_at = fields.DateTime(required=True)


class FlagReasonSchema(Schema):
    id = fields.Str(required=True)
    label = fields.Str(required=True)


class FlagReasonsSchema(Schema):
    reasons = fields.List(fields.Nested(FlagReasonSchema), required=True)
