"""Admin schemas: sites and their policy, word and link lists, keys, articles."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.domain.sites import SITE_ID
from service.models.site import origin_problem
from service.schemas.common import JsonBool, JsonFloat, cursor_arg, not_blank
from service.schemas.public import ChangeSchema, StrictSchema


def _an_origin(value: str) -> None:
    problem = origin_problem(value)
    if problem:
        raise ValidationError(problem[0].upper() + problem[1:] + ".")


def origins(*, required: bool = False) -> fields.List:
    return fields.List(
        fields.Str(validate=[validate.Length(1, 300), _an_origin]),
        required=required, validate=validate.Length(1, 50,
                                                    error="Between 1 and 50 origins: a site "
                                                    "without one cannot take a comment."))



def threshold() -> JsonFloat:
    return JsonFloat(validate=validate.Range(0, 1))


def _a_matchable_word(value: str) -> None:
    from workers.checks.normalize import normalize_entry

    if not normalize_entry(value):
        # "*", "  " or an emoji normalises to nothing: stored, it would match no comment
        # while the site believes it blocks something.
        raise ValidationError("Has no letters or digits left after normalisation, so it "
                              "would match nothing.")


def words() -> fields.List:
    return fields.List(fields.Str(validate=[validate.Length(1, 100), _a_matchable_word]),
                       validate=validate.Length(max=5000))


def domains() -> fields.List:
    return fields.List(fields.Str(validate=validate.Regexp(
        r"^[a-z0-9.-]+\.[a-z0-9-]+$", error="Not a domain like example.com.")),
        validate=validate.Length(max=5000))


class SitePolicyFields(StrictSchema):
    name = fields.Str(validate=[validate.Length(1, 200), not_blank])
    allowed_origins = origins()
    mode = fields.Str(validate=validate.OneOf(["auto", "manual", "post"]))
    hold_threshold = threshold()
    reject_threshold = threshold()
    auto_create_articles = JsonBool()
    max_depth = fields.Int(strict=True, allow_none=True, validate=validate.Range(0, 20))
    flag_threshold = fields.Int(strict=True, validate=validate.Range(1, 1000))
    hide_flagged = JsonBool()
    hold_first_time_authors = JsonBool()
    close_after_days = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 36500))
    edit_window_seconds = fields.Int(strict=True, validate=validate.Range(0, 7 * 86400))

    @validates_schema
    def thresholds_in_order(self, data: dict[str, object], **_: object) -> None:
        hold, reject = data.get("hold_threshold"), data.get("reject_threshold")
        if isinstance(hold, float) and isinstance(reject, float) and hold > reject:
            raise ValidationError("hold_threshold must not exceed reject_threshold",
                                  "hold_threshold")


class SitePatchSchema(SitePolicyFields, ChangeSchema):
    pass


class SiteCreateSchema(SitePolicyFields):
    id = fields.Str(required=True, validate=validate.Regexp(SITE_ID, error="1-64 lower-case "
                                                            "letters, digits, '-' or '_'."))
    allowed_origins = origins(required=True)


class SiteSchema(Schema):
    id = fields.Str()
    name = fields.Str()
    allowed_origins = fields.List(fields.Str())
    mode = fields.Str()
    hold_threshold = fields.Float()
    reject_threshold = fields.Float()
    auto_create_articles = fields.Bool()
    max_depth = fields.Int(allow_none=True)
    flag_threshold = fields.Int()
    hide_flagged = fields.Bool()
    hold_first_time_authors = fields.Bool()
    close_after_days = fields.Int(allow_none=True)
    edit_window_seconds = fields.Int()
    created_at = fields.DateTime()


class SiteListSchema(Schema):
    items = fields.List(fields.Nested(SiteSchema), required=True)


class ListsSchema(ChangeSchema):
    blocked_words = words()
    suspect_words = words()
    allowed_link_domains = domains()
    blocked_link_domains = domains()


class KeyCreateSchema(StrictSchema):
    role = fields.Str(required=True, validate=validate.OneOf(["moderator", "admin"]))
    label = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=200))


class KeySchema(Schema):
    id = fields.Int()
    site = fields.Str(attribute="site_id", allow_none=True)
    role = fields.Str()
    prefix = fields.Str()
    label = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class KeyCreatedSchema(KeySchema):
    key = fields.Str(required=True, metadata={"description": "shown once; store it now"})


class KeyListSchema(Schema):
    items = fields.List(fields.Nested(KeySchema), required=True)


class ArticleQuerySchema(Schema):
    cursor = cursor_arg()
    limit = fields.Int(load_default=50, validate=validate.Range(1, 200))


class ArticleAdminSchema(Schema):
    id = fields.Int()
    key = fields.Str()
    url = fields.Str(allow_none=True)
    title = fields.Str(allow_none=True)
    is_open = fields.Bool()
    approved_count = fields.Int()
    created_at = fields.DateTime()


class ArticlePageSchema(Schema):
    items = fields.List(fields.Nested(ArticleAdminSchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class ArticlePatchSchema(ChangeSchema):
    is_open = JsonBool()
    title = fields.Str(allow_none=True, validate=[validate.Length(max=300), not_blank])
    url = fields.Url(allow_none=True, validate=validate.Length(max=2048),
                     schemes={"http", "https"}, metadata={
                         "description": "the article's page (a first comment's article_url "
                                        "is kept only on one of the site's origins)"})


class AuthorExportSchema(Schema):
    author = fields.Dict(required=True)
    comments = fields.List(fields.Dict(), required=True)
    flags_made = fields.List(fields.Dict(), required=True)
    moderation_labels = fields.List(fields.Dict(), required=True)


class EraseSchema(StrictSchema):
    remove_unreplied = JsonBool(load_default=False)


class EraseOutSchema(Schema):
    changed = fields.Bool(required=True, metadata={
        "description": "false when everything was erased already (then nothing is audited "
                       "or announced)"})
    placeholders = fields.Int(required=True)
    removed = fields.Int(required=True)
    labels = fields.Int(required=True)
    events_scrubbed = fields.Int(required=True, metadata={
        "description": "webhook events (kept for redelivery and the delivery log) whose copy "
                       "of the author's text or name was erased"})
