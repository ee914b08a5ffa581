"""hold-only verdicts: check_results.may_reject

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:00:00.000000

A check's score could hold a comment without being allowed to reject it (profanity; a
toxicity score the profanity model did not corroborate) only by staying below the default
reject threshold; a site, or an author's history, that lowered the threshold let it reject.
The verdict now says so itself, and ``warden policy replay`` needs to know it of stored
scores. Rows stored before this revision are marked as the checks of this revision would
mark them (profanity; suspect words, scored between 0 and 1; toxicity whose reasons say a
human decides), so a replay at a lower threshold does not show them as newly rejected. A
constant default: PostgreSQL (11+) adds the column without rewriting the table.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('check_results') as batch:
        batch.add_column(sa.Column('may_reject', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    op.execute("UPDATE check_results SET may_reject = false WHERE check_name = 'profanity'"
               " OR (check_name = 'words' AND score > 0 AND score < 1)"
               " OR (check_name = 'toxicity' AND (CAST(reasons AS TEXT) LIKE"
               " '%not corroborated by the profanity model%' OR CAST(reasons AS TEXT) LIKE"
               " '%swearing aimed at nobody%'))")


def downgrade():
    with op.batch_alter_table('check_results') as batch:
        batch.drop_column('may_reject')
