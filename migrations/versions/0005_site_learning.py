"""site learning: moderators' labelled examples and per-site spam models

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('moderation_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('label', sa.Enum('spam', 'ham', 'toxic', name='label_kind'), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['authors.id'], name=op.f('fk_moderation_labels_author_id_authors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_moderation_labels_comment_id_comments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_moderation_labels_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_labels')),
    sa.UniqueConstraint('comment_id', name='uq_moderation_labels_comment_id')
    )
    with op.batch_alter_table('moderation_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_labels_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_moderation_labels_site_created', ['site_id', 'created_at'], unique=False)

    op.create_table('site_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('n_spam', sa.Integer(), nullable=False),
    sa.Column('n_ham', sa.Integer(), nullable=False),
    sa.Column('artefact', sa.LargeBinary(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('review_at', sa.Float(), nullable=False),
    sa.Column('reject_at', sa.Float(), nullable=False),
    sa.Column('trained_by', sa.String(length=80), nullable=False),
    sa.Column('train_seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_models_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_models')),
    sa.UniqueConstraint('site_id', 'version', name='uq_site_models_version')
    )


def downgrade():
    op.drop_table('site_models')
    with op.batch_alter_table('moderation_labels', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_labels_site_created')
        batch_op.drop_index(batch_op.f('ix_moderation_labels_author_id'))

    op.drop_table('moderation_labels')
    # PostgreSQL keeps enum types after their tables are dropped.
    if op.get_bind().dialect.name == "postgresql":
        sa.Enum(name="label_kind").drop(op.get_bind(), checkfirst=True)
