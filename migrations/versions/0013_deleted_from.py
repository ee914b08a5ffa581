"""deleted comments remember their status: comments.deleted_from

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:00:00.000000

An author's rejected comments lower their thresholds (``workers/policy.py``), and
``authors.rejected_count`` was a count of the comments rejected or spam *now*: an author
who deleted their rejected comments within the edit window came back with a clean
history. A deletion now keeps the rejection in the tally, and the comment keeps the status
it had (``deleted_from``) so the tally stays a recount of the rows. Deleted rows get theirs
from the audit trail (the latest ``comment.deleted`` entry), then the authors' tallies are
recounted under the new definition.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_STATUSES = ('pending', 'approved', 'rejected', 'held', 'spam', 'deleted')


def upgrade():
    is_pg = op.get_bind().dialect.name == 'postgresql'
    status = (postgresql.ENUM(*_STATUSES, name='comment_status', create_type=False) if is_pg
              else sa.Enum(*_STATUSES, name='comment_status'))
    # Plain ALTER TABLE on both: a batch copy of ``comments`` on SQLite drops the old table,
    # and with foreign keys on that deletes every comment's check results and flags.
    op.add_column('comments', sa.Column('deleted_from', status, nullable=True))
    cast = 'CAST(a.from_status AS comment_status)' if is_pg else 'a.from_status'
    op.execute(
        f"UPDATE comments SET deleted_from = (SELECT {cast} FROM audit_entries a"
        " WHERE a.subject_type = 'comment' AND a.subject_id = CAST(comments.id AS VARCHAR)"
        " AND a.action = 'comment.deleted' ORDER BY a.id DESC LIMIT 1)"
        " WHERE status = 'deleted'")
    op.execute(
        "UPDATE authors SET rejected_count = (SELECT COUNT(*) FROM comments c"
        " WHERE c.author_id = authors.id AND (c.status IN ('rejected', 'spam')"
        " OR c.deleted_from IN ('rejected', 'spam')))")


def downgrade():
    op.execute(
        "UPDATE authors SET rejected_count = (SELECT COUNT(*) FROM comments c"
        " WHERE c.author_id = authors.id AND c.status IN ('rejected', 'spam'))")
    op.drop_column('comments', 'deleted_from')  # SQLite 3.35+ drops a column in place
