"""sessions.ended_at and end_reason: a session revoked from elsewhere stays as a tombstone.

A signed-out browser that comes back is told why (its password was changed, or another browser
signed it out) instead of landing on the sign-in page without a word. Existing sessions stay
signed in.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

END_REASON_CHECK = "end_reason IN ('password_changed', 'revoked')"


def upgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sa.String(length=32), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_sessions_end_reason'), END_REASON_CHECK)


def downgrade():
    # Before 0004 every row is a signed-in browser: a tombstone left behind would sign its
    # browser back in.
    op.execute("DELETE FROM sessions WHERE ended_at IS NOT NULL")
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_sessions_end_reason'), type_='check')
        batch_op.drop_column('end_reason')
        batch_op.drop_column('ended_at')
