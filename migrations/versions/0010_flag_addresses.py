"""flag addresses: a reader's reports count once per hashed address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ip_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('counted', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
    # Reports made without a token were keyed by their address already.
    flags = sa.table('flags', sa.column('reporter', sa.String), sa.column('ip_hash', sa.String))
    op.execute(flags.update().where(flags.c.reporter.like('ip:%'))
               .values(ip_hash=sa.func.substr(flags.c.reporter, 4)))


def downgrade():
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('counted')
        batch_op.drop_column('ip_hash')
