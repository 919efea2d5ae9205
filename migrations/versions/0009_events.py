"""Events and planning: `tablo_events` (each tablo's events, timed or all-day), `users.time_zone`
(the IANA zone a person's times are entered and shown in) and `users.feed_salt` (the secret
behind their calendar feed's URL).

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tablo_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tablo_id', sa.Integer(), nullable=False),
        sa.Column('created_by_user_id', sa.Integer(), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('location', sa.String(length=200), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('all_day', sa.Boolean(), nullable=False),
        sa.Column('uid', sa.String(length=64), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('ends_at >= starts_at', name=op.f('ck_tablo_events_ends_after_start')),
        sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_tablo_events_created_by_user_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_events_tablo_id_tablos'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_events')),
        sa.UniqueConstraint('uid', name=op.f('uq_tablo_events_uid')),
    )
    with op.batch_alter_table('tablo_events', schema=None) as batch_op:
        batch_op.create_index('ix_tablo_events_tablo_start', ['tablo_id', 'starts_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('feed_salt', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('feed_salt')
        batch_op.drop_column('time_zone')
    with op.batch_alter_table('tablo_events', schema=None) as batch_op:
        batch_op.drop_index('ix_tablo_events_tablo_start')
    op.drop_table('tablo_events')
