"""tablos.board_version: the version a cached rendering of the board is keyed by.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tablos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('board_version', sa.String(length=32), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('tablos', schema=None) as batch_op:
        batch_op.drop_column('board_version')
