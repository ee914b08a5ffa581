"""velocity indexes: an author's and an address's recent comments, read from an index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:10:00.000000

The worker counts, per batch, each author's and each hashed address's comments of the last
window. By address there was no index (every comment of the site was read); by author the
index on author_id alone read every comment the author ever made. ``(author_id,
created_at)`` also serves what ``ix_comments_author_id`` served (the author foreign key),
so it replaces it. On PostgreSQL the indexes are built CONCURRENTLY: a large comments table
keeps taking submits while they build. That runs outside a transaction, so each step skips
what an interrupted earlier run already did (IF [NOT] EXISTS). A build that failed leaves an
INVALID index behind: drop it (``DROP INDEX CONCURRENTLY ix_comments_...``) and upgrade again.
"""
from contextlib import nullcontext

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _outside_transaction():
    """CONCURRENTLY needs autocommit on PostgreSQL. SQLite has no such builds, and there
    autocommit would commit the run's earlier steps: it keeps the run one transaction."""
    if op.get_bind().dialect.name == "postgresql":
        return op.get_context().autocommit_block()
    return nullcontext()


def upgrade():
    with _outside_transaction():
        op.create_index('ix_comments_author_created', 'comments', ['author_id', 'created_at'],
                        postgresql_concurrently=True, if_not_exists=True)
        op.create_index('ix_comments_site_address', 'comments',
                        ['site_id', 'ip_hash', 'created_at'],
                        sqlite_where=sa.text('ip_hash IS NOT NULL'),
                        postgresql_where=sa.text('ip_hash IS NOT NULL'),
                        postgresql_concurrently=True, if_not_exists=True)
        op.drop_index('ix_comments_author_id', table_name='comments',
                      postgresql_concurrently=True, if_exists=True)


def downgrade():
    with _outside_transaction():
        op.create_index('ix_comments_author_id', 'comments', ['author_id'],
                        postgresql_concurrently=True, if_not_exists=True)
        op.drop_index('ix_comments_site_address', table_name='comments',
                      postgresql_concurrently=True, if_exists=True)
        op.drop_index('ix_comments_author_created', table_name='comments',
                      postgresql_concurrently=True, if_exists=True)
