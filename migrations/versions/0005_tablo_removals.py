"""tablo_removals: who an owner removed from a tablo, and when.

A removed member cannot rejoin through an invitation link made before their removal.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tablo_removals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tablo_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_tablo_removals_removed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_removals_tablo_id_tablos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tablo_removals_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_removals')),
    sa.UniqueConstraint('tablo_id', 'user_id', name=op.f('uq_tablo_removals_tablo_id'))
    )
    with op.batch_alter_table('tablo_removals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tablo_removals_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('tablo_removals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tablo_removals_user_id'))
    op.drop_table('tablo_removals')
