"""Accepting a comment: validate against the site's rules, store, audit, announce.

Nothing here runs a check: the web process stores and commits, the worker decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from service.dbpool import autocommit_connection, single_read
from service.domain.errors import Conflict, DomainError, NotFound
from service.domain.events import enqueue_event_dispatch
from service.domain.lifecycle import Actor, creation_rows, record_creation, transition
from service.domain.rendering import (
    clean_text,
    fingerprint,
    render_html,
    require_usable_text,
)
from service.domain.security import (
    hash_email,
    idempotent_author_token,
    new_token,
    token_digest,
)
from service.domain.threads import Openness
from service.models import (
    Article,
    AuditEntry,
    Author,
    Comment,
    CommentStatus,
    Event,
    IdWatermark,
    ModerationMode,
    Site,
    TrustLevel,
    utcnow,
)
from service.models.site import origin_allowed

POST_MODERATION_REASON = "published at once; checks may still pull it back"


@dataclass(frozen=True)
class Submission:
    article: str
    body: str
    # "" when the submit names nobody: a new author is "Anonymous", a known one (by their
    # token) keeps their name instead of being renamed "Anonymous".
    author_name: str = ""
    author_email: str | None = None
    article_url: str | None = None
    article_title: str | None = None
    parent_id: int | None = None
    honeypot: str | None = None
    elapsed_ms: int | None = None


@dataclass(frozen=True)
class ClientInfo:
    ip_hash: str | None = None
    # The plain address: given only while Akismet is enabled (it needs user_ip).
    ip_address: str | None = None
    user_agent: str | None = None
    referrer: str | None = None  # the Referer header, also only while Akismet is enabled
    author_token: str | None = None
    idempotency_key: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """The submission's text work (clean, render, fingerprint), done before the transaction
    starts: on SQLite a submit holds the write lock from its first statement to the commit,
    and every other writer waits meanwhile."""

    body: str
    html: str
    fingerprint: str
    author_name: str  # cleaned and cut; "" if nothing is left


def render_submission(data: Submission, max_body_chars: int) -> Rendered:
    """Render only text that will be accepted (``submit_comment`` refuses the rest)."""
    body = clean_text(data.body)
    accepted = 0 < len(body) <= max_body_chars
    return Rendered(body, render_html(body) if accepted else "",
                    fingerprint(body) if accepted else "", clean_text(data.author_name)[:80])


@dataclass(frozen=True)
class StoredArticle:
    """An article row as submitting reads it."""

    id: int
    key: str
    url: str | None
    title: str | None
    is_open: bool
    approved_count: int
    created_at: datetime | None


@dataclass(frozen=True)
class SitePolicy:
    """What accepting a comment needs of a site (and CORS, its origins): one small query,
    which also reads the submission's article when its key is given."""

    id: str
    mode: ModerationMode
    max_depth: int | None
    auto_create_articles: bool
    close_after_days: int | None
    allowed_origins: tuple[str, ...]
    article_key: str | None = None  # the key the article below was looked up by
    article: StoredArticle | None = None  # None: no such article (yet), or not looked up
    # Read for the one-statement submit (PostgreSQL, outside a transaction; see
    # ``_submit_in_one_statement``): ids taken from the sequences, and the author behind
    # the submitted token (``token_hash``), if any.
    reserved_id: int | None = None
    reserved_author_id: int | None = None
    token_hash: str | None = None
    token_author: tuple[int, str] | None = None  # (id, display name)

    def allows_origin(self, origin: str) -> bool:
        return origin_allowed(self.allowed_origins, origin)


@dataclass(frozen=True)
class Accepted:
    """The stored comment's answer fields; ``comment`` loads the ORM object on demand."""

    id: int
    status: CommentStatus
    article_key: str
    parent_id: int | None
    created_at: datetime
    author_token: str
    created: bool  # False when an Idempotency-Key replayed an earlier submission
    session: Session = field(repr=False, compare=False)

    @property
    def comment(self) -> Comment:
        """The comment as an ORM object (a query unless the session already holds it)."""
        comment = self.session.get(Comment, self.id)
        assert comment is not None
        return comment


@dataclass(frozen=True)
class _NewComment:
    """The inserted comment as the audit entry and the outbox payload read it."""

    id: int
    site_id: str
    parent_id: int | None
    status: CommentStatus
    author_name: str
    author_id: int
    body: str
    html: str
    created_at: datetime
    status_reason: str | None = None


# Prebuilt statements for the submit path (compiled once, then served from SQLAlchemy's
# cache): the ORM unit of work cost several times the statements it ran.
_sites, _articles = Site.__table__, Article.__table__
_authors, _comments = Author.__table__, Comment.__table__

_ARTICLE_COLUMNS = (_articles.c.id, _articles.c.key, _articles.c.url, _articles.c.title,
                    _articles.c.is_open, _articles.c.approved_count, _articles.c.created_at)
# The site and (outer-joined) the submission's article: one round trip for both.
_SITE_POLICY = select(
    _sites.c.id, _sites.c.mode, _sites.c.max_depth, _sites.c.auto_create_articles,
    _sites.c.close_after_days, _sites.c.allowed_origins,
    *[c.label(f"article_{c.name}") for c in _ARTICLE_COLUMNS],
).select_from(_sites.outerjoin(_articles, and_(_articles.c.site_id == _sites.c.id,
                                               _articles.c.key == bindparam("key")))
              ).where(_sites.c.id == bindparam("site_id"))
# PostgreSQL, outside a transaction: the same, plus the author behind the submitted token
# and ids for the comment and (only when no author of this site matched) a new author, taken
# from their sequences now so that one statement can then write everything
# (``_submit_in_one_statement``). An id taken by a submission that is then refused is a gap,
# as after any rollback.
# An author is found by the token alone and the site compared after (``_token_author_on``):
# given ``site_id = ?`` as well, a plan PostgreSQL caches for the connection (a prepared
# statement's generic plan, made while the table is small or before an ANALYZE) can read
# the site's authors by ix_authors_site_id and filter them, every one, on every submit.
_token_author_on = _authors.c.site_id == _sites.c.id
_SITE_POLICY_RESERVING = _SITE_POLICY.add_columns(
    case((_token_author_on, _authors.c.id), else_=None).label("token_author_id"),
    _authors.c.display_name.label("token_author_name"),
    func.nextval(func.pg_get_serial_sequence("comments", "id")).label("reserved_id"),
    case((_token_author_on, None),
         else_=func.nextval(func.pg_get_serial_sequence("authors", "id"))
         ).label("reserved_author_id"),
).outerjoin(_authors, _authors.c.token_hash == bindparam("token_hash"))
_ARTICLE = select(*_ARTICLE_COLUMNS).where(_articles.c.site_id == bindparam("site_id"),
                                           _articles.c.key == bindparam("key"))
_INSERT_ARTICLE = insert(_articles).returning(*_ARTICLE_COLUMNS)
_PARENT = select(_comments.c.id, _comments.c.article_id, _comments.c.root_id,
                 _comments.c.depth, _comments.c.status).where(
    _comments.c.id == bindparam("parent_id"))
# By the token alone, the site compared after: see ``_token_author_on``.
_AUTHOR_BY_TOKEN = select(_authors.c.id, _authors.c.display_name, _authors.c.site_id).where(
    _authors.c.token_hash == bindparam("token_hash"))
_RENAME_AUTHOR = update(_authors).where(_authors.c.id == bindparam("b_id")).values(
    display_name=bindparam("b_name"))
_INSERT_AUTHOR = insert(_authors).returning(_authors.c.id)

# The comment's own columns (id and root_id come from the statement, see _insert_comment).
_COMMENT_VALUES = [c.name for c in _comments.c if c.name not in {"id", "root_id"}]


def _comment_insert(new_id: Any, new_author: Any = None) -> Any:
    """INSERT ... SELECT taking the new id from ``new_id``, with ``root_id`` = that id for a
    root: one statement where the ORM needed an INSERT and an UPDATE. With ``new_author``
    (a CTE inserting the author), ``author_id`` is that author's."""
    author_id = new_author.c.id if new_author is not None else bindparam("author_id",
                                                                         type_=Integer)
    source = select(
        new_id.c.id,
        func.coalesce(bindparam("b_root_id", type_=Integer), new_id.c.id),
        *[author_id if name == "author_id" else bindparam(name, type_=_comments.c[name].type)
          for name in _COMMENT_VALUES],
    )
    if new_author is not None:  # one row each: a join on true, not a cartesian warning
        source = source.select_from(new_id.join(new_author, true()))
    return insert(_comments).from_select(["id", "root_id", *_COMMENT_VALUES], source).returning(
        _comments.c.id, _comments.c.author_id)


# PostgreSQL: the next value of the serial's sequence, as the column default would take it.
_PG_NEW_ID = (select(func.nextval(func.pg_get_serial_sequence("comments", "id")).label("id"))
              .cte("new_comment"))
_INSERT_COMMENT_PG = _comment_insert(_PG_NEW_ID)
# ... and a new author in the same round trip (a data-modifying CTE), ``a_`` parameters.
_AUTHOR_VALUES = ("site_id", "display_name", "email_hash", "token_hash", "trust",
                  "approved_count", "rejected_count", "created_at")
_INSERT_COMMENT_AND_AUTHOR_PG = _comment_insert(_PG_NEW_ID, insert(_authors).values(
    {name: bindparam(f"a_{name}", type_=_authors.c[name].type) for name in _AUTHOR_VALUES}
).returning(_authors.c.id).cte("new_author"))
# SQLite: max(rowid) + 1 is SQLite's own choice for an INTEGER PRIMARY KEY without
# AUTOINCREMENT, and an INSERT holds the write lock while it reads it; never below the
# watermark an erasure leaves (``IdWatermark``), so an erased comment's id is not reused.
_ZERO = literal_column("0")
_COMMENTS_WATERMARK = (select(IdWatermark.value).where(IdWatermark.name == "comments")
                       .scalar_subquery())
_INSERT_COMMENT_SQLITE = _comment_insert(
    select((func.max(func.coalesce(func.max(_comments.c.id), _ZERO),  # scalar max(a, b)
                     func.coalesce(_COMMENTS_WATERMARK, _ZERO)) + 1).label("id"))
    .subquery("new_comment"))


# PostgreSQL, the whole submit in one autocommit statement: the comment, its audit entry
# and its outbox event (and a new author), each a data-modifying CTE with every value bound,
# ids included (taken by ``_SITE_POLICY_RESERVING``). One statement is one transaction:
# all of it is stored or none of it, with no BEGIN and COMMIT round trips.
_audit_log, _events = AuditEntry.__table__, Event.__table__


# Values every one-statement submit shares (one parameter each) or always has (constants in
# the SQL): psycopg caches a statement's conversion only up to 50 parameters, and the
# four rows would otherwise take 56.
_SHARED_PARAMS = {"c_site_id": "site_id", "a_site_id": "site_id", "e_site_id": "site_id",
                  "u_site_id": "site_id", "c_created_at": "now", "c_updated_at": "now",
                  "c_enqueued_at": "now", "u_created_at": "now", "c_id": "comment_id",
                  "c_root_id": "comment_id", "c_author_id": "author_id", "u_id": "author_id"}
_CONSTANT_PARAMS: dict[str, Any] = {
    "c_parent_id": None, "c_depth": 0, "c_status_reason": None, "c_deleted_from": None,
    "c_idempotency_key": None,
    "c_decided_at": None, "c_checked_at": None, "c_moderation_attempts": 0,
    "c_lease_until": None, "c_flag_count": 0, "c_flagged_at": None, "a_from_status": None,
    "a_reason": None, "e_dispatched_at": None, "u_approved_count": 0, "u_rejected_count": 0}


def _bound(table: Any, prefix: str, names: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        key = prefix + name
        if key in _CONSTANT_PARAMS:
            constant = _CONSTANT_PARAMS[key]
            values[name] = null() if constant is None else literal_column(str(constant))
        else:
            values[name] = bindparam(_SHARED_PARAMS.get(key, key), type_=table.c[name].type)
    return values


def _statement_params(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (``c_``/``a_``/``e_``/``u_`` column values) as the statement's parameters."""
    params: dict[str, Any] = {}
    for key, value in values.items():
        if key in _CONSTANT_PARAMS:
            assert value == _CONSTANT_PARAMS[key], key
            continue
        shared = _SHARED_PARAMS.get(key, key)
        assert params.get(shared, value) == value, key
        params[shared] = value
    return params


def _one_statement_submit(with_author: bool) -> Any:
    ctes = [insert(_comments).values(_bound(_comments, "c_", [c.name for c in _comments.c]))
            .cte("new_comment"),
            insert(_audit_log).values(_bound(_audit_log, "a_", [c.name for c in _audit_log.c
                                                                  if c.name != "id"]))
            .cte("new_audit_entry")]
    if with_author:
        ctes.insert(0, insert(_authors).values(_bound(_authors, "u_", ("id", *_AUTHOR_VALUES)))
                    .cte("new_author"))
    return insert(_events).values(_bound(_events, "e_", [c.name for c in _events.c])
                                  ).add_cte(*ctes)


_SUBMIT_PG = _one_statement_submit(with_author=False)
_SUBMIT_WITH_AUTHOR_PG = _one_statement_submit(with_author=True)


def _insert_comment(connection: Connection, values: dict[str, Any],
                    new_author: dict[str, Any] | None) -> tuple[int, int]:
    """Insert the comment (and ``new_author`` first, if given); return both ids."""
    if connection.dialect.name == "postgresql":
        if new_author is None:
            row = connection.execute(_INSERT_COMMENT_PG, values).one()
        else:
            row = connection.execute(_INSERT_COMMENT_AND_AUTHOR_PG, {
                **values, **{f"a_{name}": value for name, value in new_author.items()}}).one()
    else:
        if new_author is not None:
            values = {**values,
                      "author_id": connection.execute(_INSERT_AUTHOR, new_author).scalar_one()}
        row = connection.execute(_INSERT_COMMENT_SQLITE, values).one()
    return row.id, row.author_id


def get_site(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    return site


def site_policy(session: Session, site_id: str, article_key: str = "",
                author_token: str | None = None, *, reserve_ids: bool = False) -> SitePolicy:
    """The site as submitting needs it, and the article ``article_key`` names, read now
    (never cached: policy changes apply at once); 404 for an unknown site.

    ``reserve_ids`` (a root comment without an Idempotency-Key is coming): on PostgreSQL
    outside a transaction the read also finds the author behind ``author_token`` and takes
    the new ids that let ``submit_comment`` store it in one statement.
    """
    key = article_key.strip()
    reserving = reserve_ids and _one_statement_possible(session)
    token_hash = token_digest(author_token) if reserving and author_token else None
    with single_read(session) as connection:
        row = connection.execute(_SITE_POLICY_RESERVING if reserving else _SITE_POLICY,
                                 {"site_id": site_id, "key": key, "token_hash": token_hash}
                                 ).first()
    if row is None:
        raise NotFound(f"no site {site_id!r}")
    article = None
    if row.article_id is not None:
        article = StoredArticle(**{c.name: row._mapping[f"article_{c.name}"]
                                   for c in _ARTICLE_COLUMNS})
    policy = SitePolicy(row.id, row.mode, row.max_depth, row.auto_create_articles,
                        row.close_after_days, tuple(row.allowed_origins or ()), key, article)
    if not reserving:
        return policy
    token_author = (None if row.token_author_id is None
                    else (row.token_author_id, row.token_author_name))
    return replace(policy, reserved_id=row.reserved_id,
                   reserved_author_id=row.reserved_author_id, token_hash=token_hash,
                   token_author=token_author)


def _one_statement_possible(session: Session) -> bool:
    """PostgreSQL with no transaction open on ``session``: a submit can be one autocommit
    statement (the session's own transaction would add BEGIN and COMMIT round trips)."""
    plain = session() if isinstance(session, scoped_session) else session
    return plain.get_bind().dialect.name == "postgresql" and not plain.in_transaction()


def submit_comment(session: Session, site: Site | SitePolicy, data: Submission,
                   client: ClientInfo, *, max_depth: int, max_body_chars: int,
                   rendered: Rendered | None = None, secret_key: str | None = None
                   ) -> Accepted:
    """Store a new comment as pending (or approved on a post-moderated site).

    The comment, its audit entry and its outbox event are written in the caller's
    transaction with prebuilt Core statements (no ORM flush); the caller commits. The
    common case on PostgreSQL (a root comment on an existing article, no Idempotency-Key,
    no rename, ``site`` read by ``site_policy`` outside a transaction) is instead one
    autocommit statement, stored when this returns.
    ``rendered``: ``render_submission(data, max_body_chars)`` if the caller did it already.
    ``secret_key``: with an Idempotency-Key and no known author, the new author's token is
    derived from the key (``idempotent_author_token``), so a retry whose first answer was
    lost gets the same token back; without it the token is random.
    """
    text = rendered or render_submission(data, max_body_chars)
    if client.idempotency_key:
        earlier = _with_key(session, site.id, client.idempotency_key)
        if earlier is not None:
            return _replay(session, earlier, data, client, text, secret_key)

    body = require_usable_text(text.body, max_body_chars)
    if isinstance(site, SitePolicy):
        accepted = _submit_in_one_statement(session, site, data, client, text)
        if accepted is not None:
            return accepted
    session.flush()  # whatever the caller left pending goes first (a no-op when clean)
    connection = session.connection()
    article = _article_for(session, connection, site, data)
    _check_open(site, article)
    parent = _parent_for(connection, article, data.parent_id,
                         max_depth if site.max_depth is None else site.max_depth)
    author_id, token, name = _known_author(connection, site, text.author_name,
                                           client.author_token)
    if author_id is None and client.idempotency_key and secret_key:
        token = idempotent_author_token(secret_key, site.id, client.idempotency_key)
    now = utcnow()
    new_author = None
    if author_id is None:
        new_author = _new_author(site, name, data, token, now)
    values = _comment_values(site, article, parent, name, text, client, data, now)
    values["b_root_id"] = parent.root_id if parent else None  # None: the comment's own id
    values["author_id"] = author_id
    if client.idempotency_key:
        # Retries sent at the same time race to be first: the unique key (and the token it
        # derives) lets one insert win; the others answer with its comment.
        try:
            with connection.begin_nested():
                comment_id, author_id = _insert_comment(connection, values, new_author)
        except IntegrityError:
            earlier = _with_key(session, site.id, client.idempotency_key)
            if earlier is None:
                raise
            return _replay(session, earlier, data, client, text, secret_key)
    else:
        comment_id, author_id = _insert_comment(connection, values, new_author)
    new = _NewComment(id=comment_id, site_id=site.id, parent_id=values["parent_id"],
                      status=CommentStatus.PENDING, author_name=values["author_name"],
                      author_id=author_id, body=body, html=values["html"], created_at=now)
    record_creation(session, new, article, Actor("author", str(author_id)))
    status = CommentStatus.PENDING
    if site.mode == ModerationMode.POST:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        transition(session, comment, CommentStatus.APPROVED, Actor.system("post-moderation"),
                   POST_MODERATION_REASON)
        status = comment.status
    return Accepted(comment_id, status, article.key, new.parent_id, now, token, True, session)


def _submit_in_one_statement(session: Session, site: SitePolicy, data: Submission,
                             client: ClientInfo, text: Rendered) -> Accepted | None:
    """The common submit as one autocommit statement (``_SUBMIT_PG``): two round trips in
    all with ``site_policy``'s read, where the transaction took five (BEGIN, read, comment,
    audit + event, COMMIT). None: not the common case; the transactional path decides."""
    article, comment_id = site.article, site.reserved_id
    if (comment_id is None or article is None or client.idempotency_key
            or data.parent_id is not None or site.mode == ModerationMode.POST
            or site.article_key != data.article.strip() or not _one_statement_possible(session)):
        return None
    _check_open(site, article)
    name = text.author_name
    token = client.author_token
    now = utcnow()
    params: dict[str, Any] = {}
    if token and site.token_author is not None and site.token_hash == token_digest(token):
        author_id, known_name = site.token_author
        if name and name != known_name:
            return None  # a rename is one more statement: the transactional path does it
        name = known_name
    elif site.reserved_author_id is not None:
        author_id, token = site.reserved_author_id, new_token("at")
        params.update({f"u_{k}": v for k, v in
                       _new_author(site, name, data, token, now).items()}, u_id=author_id)
    else:
        return None
    values = _comment_values(site, article, None, name, text, client, data, now)
    values.update(id=comment_id, root_id=comment_id, author_id=author_id)
    new = _NewComment(id=comment_id, site_id=site.id, parent_id=None,
                      status=CommentStatus.PENDING, author_name=values["author_name"],
                      author_id=author_id, body=text.body, html=text.html, created_at=now)
    audit, event = creation_rows(new, article, Actor("author", str(author_id)))
    params.update({f"c_{k}": v for k, v in values.items()},
                  **{f"a_{k}": v for k, v in audit.items()},
                  **{f"e_{k}": v for k, v in event.items()})
    try:
        with autocommit_connection(session.get_bind()) as connection:
            connection.execute(_SUBMIT_WITH_AUTHOR_PG if "u_id" in params else _SUBMIT_PG,
                               _statement_params(params))
    except IntegrityError:
        # Nothing was stored (one statement). The article or the author went away since
        # the read: the transactional path looks again and answers accordingly.
        return None
    enqueue_event_dispatch()  # what a commit that wrote events does (``events.emitted``)
    return Accepted(comment_id, CommentStatus.PENDING, article.key, None, now, token, True,
                    session)


class CommentsClosed(Conflict):
    code = "comments_closed"


def _check_open(site: Site | SitePolicy, article: StoredArticle) -> None:
    if not Openness.of(article.is_open, article.created_at, site.close_after_days).is_open:
        # No key in the message: readers see it, and a key may be a long URL.
        raise CommentsClosed("comments are closed on this article")


def _new_author(site: Site | SitePolicy, name: str, data: Submission, token: str,
                now: datetime) -> dict[str, Any]:
    return {"site_id": site.id, "display_name": name or "Anonymous",
            "email_hash": hash_email(data.author_email), "token_hash": token_digest(token),
            "trust": TrustLevel.NEW, "approved_count": 0, "rejected_count": 0,
            "created_at": now}


def _comment_values(site: Site | SitePolicy, article: StoredArticle, parent: Row[Any] | None,
                    name: str, text: Rendered, client: ClientInfo, data: Submission,
                    now: datetime) -> dict[str, Any]:
    """A new comment's columns but ``id``, ``root_id`` and ``author_id``."""
    return {
        "site_id": site.id,
        "article_id": article.id,
        "parent_id": parent.id if parent else None,
        "depth": parent.depth + 1 if parent else 0,
        "author_name": name or "Anonymous",
        "body": text.body,
        "html": text.html,
        "fingerprint": text.fingerprint,
        "status": CommentStatus.PENDING,
        "status_reason": None,
        "deleted_from": None,
        "ip_hash": client.ip_hash,
        "ip_address": (client.ip_address or "")[:45] or None,
        "user_agent": (client.user_agent or "")[:300] or None,
        "referrer": (client.referrer or "")[:500] or None,
        "client_signals": _client_signals(data),
        "idempotency_key": client.idempotency_key,
        "request_id": client.request_id,
        "created_at": now,
        "updated_at": now,
        "decided_at": None,
        # Marked as sent now; if the send after commit is lost, the sweep finds it stale.
        "enqueued_at": now,
        "checked_at": None,
        "moderation_attempts": 0,
        "lease_until": None,
        "flag_count": 0,
        "flagged_at": None,
    }


def _with_key(session: Session, site_id: str, key: str) -> Comment | None:
    return session.scalar(select(Comment).where(Comment.site_id == site_id,
                                                Comment.idempotency_key == key))


def _replay(session: Session, earlier: Comment, data: Submission, client: ClientInfo,
            text: Rendered, secret_key: str | None) -> Accepted:
    """The earlier answer for a retried submit: same key, same place, same text, same
    author. A reader whose first answer was lost has no token yet; the key (a secret only
    that browser holds) derives it again when the earlier submit derived it too."""
    same_place = (earlier.article.key == data.article.strip()
                  and earlier.parent_id == data.parent_id)
    if earlier.fingerprint != text.fingerprint or not same_place:
        raise Conflict("this Idempotency-Key was already used for a different comment")
    token = client.author_token
    if token is None and secret_key and client.idempotency_key:
        token = idempotent_author_token(secret_key, earlier.site_id, client.idempotency_key)
    if token is None or token_digest(token) != earlier.author.token_hash:
        raise Conflict("this Idempotency-Key was already used by another submission")
    return Accepted(earlier.id, earlier.status, earlier.article.key, earlier.parent_id,
                    earlier.created_at, token, False, session)


def _client_signals(data: Submission) -> dict[str, Any]:
    signals: dict[str, Any] = {"honeypot": bool(data.honeypot and data.honeypot.strip())}
    if data.elapsed_ms is not None:
        signals["elapsed_ms"] = data.elapsed_ms
    return signals


def _own_url(site: Site | SitePolicy, url: str | None) -> str | None:
    """The first comment names the article's URL (the widget sends the page's): kept only
    on one of the site's own origins, so nobody can point the thread, the webhooks, the
    moderators' queue and Akismet's permalink at a page elsewhere. An admin can set it."""
    if not url:
        return None
    parts = urlsplit(url)
    return url if site.allows_origin(f"{parts.scheme}://{parts.netloc}") else None


def _article_for(session: Session, connection: Connection, site: Site | SitePolicy,
                 data: Submission) -> StoredArticle:
    key = data.article.strip()
    if isinstance(site, SitePolicy) and site.article is not None and site.article_key == key:
        return site.article  # read with the site, in this transaction
    row = connection.execute(_ARTICLE, {"site_id": site.id, "key": key}).first()
    if row is not None:
        return StoredArticle(*row)
    if not site.auto_create_articles:
        raise NotFound(f"no article {key!r} on site {site.id!r}",
                       fields={"article": ["Unknown article."]})
    try:
        # A savepoint: two first comments racing on a new article must not fail the loser.
        with session.begin_nested():
            # session.connection(), not ``connection``: the SAVEPOINT is emitted when the
            # nested transaction first asks for its connection.
            return StoredArticle(*session.connection().execute(_INSERT_ARTICLE, {
                "site_id": site.id, "key": key, "url": _own_url(site, data.article_url),
                "title": data.article_title, "approved_count": 0, "is_open": True}).one())
    except IntegrityError:
        return StoredArticle(*connection.execute(_ARTICLE, {"site_id": site.id,
                                                            "key": key}).one())


def _parent_for(connection: Connection, article: StoredArticle, parent_id: int | None,
                max_depth: int) -> Row[Any] | None:
    if parent_id is None:
        return None
    parent = connection.execute(_PARENT, {"parent_id": parent_id}).first()
    if parent is None or parent.article_id != article.id:
        raise DomainError("the parent comment is not on this article",
                          fields={"parent_id": ["No such comment on this article."]})
    if parent.depth + 1 > max_depth:
        if max_depth == 0:
            raise DomainError("the site takes no replies",
                              fields={"parent_id": ["This site takes no replies."]})
        levels = "1 level" if max_depth == 1 else f"{max_depth} levels"
        raise DomainError(f"replies nest at most {levels} deep",
                          fields={"parent_id": [f"Replies nest at most {levels} deep."]})
    if parent.status != CommentStatus.APPROVED:
        # Only what readers can see takes replies: a reply under a held (hidden), waiting,
        # removed or deleted comment would bring it back as a placeholder in the thread.
        raise Conflict("the parent comment is not published, so it cannot be replied to")
    return parent


def _known_author(connection: Connection, site: Site | SitePolicy, name: str,
                  token: str | None) -> tuple[int | None, str, str]:
    """The author behind a valid token (renamed if a new name is given), that token and
    the name the comment shows; or None, a new token and the given name: the caller
    inserts the new identity with the comment."""
    if token:
        author = connection.execute(_AUTHOR_BY_TOKEN,
                                    {"token_hash": token_digest(token)}).first()
        if author is not None and author.site_id == site.id:
            if name and name != author.display_name:
                connection.execute(_RENAME_AUTHOR, {"b_id": author.id, "b_name": name})
            return author.id, token, name or author.display_name
    return None, new_token("at"), name
