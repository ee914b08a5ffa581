"""id watermarks: SQLite must not hand out an erased comment's id again

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    watermarks = op.create_table('id_watermarks',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_id_watermarks'))
    )
    # Ids already reused cannot be told apart now; from here on none is.
    highest = op.get_bind().scalar(sa.text("SELECT coalesce(max(id), 0) FROM comments"))
    op.bulk_insert(watermarks, [{"name": "comments", "value": int(highest or 0)}])


def downgrade():
    op.drop_table('id_watermarks')
