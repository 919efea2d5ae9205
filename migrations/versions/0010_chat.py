"""Chat: `tablo_messages` (each tablo's messages, soft-deleted, with the sender's idempotency key
unique per author), `tablo_message_changes` (the ordered log of their changes: the real-time
half's replay source and cross-worker feed) and `tablo_members.last_read_message_id` (each
member's unread mark).

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tablo_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tablo_id', sa.Integer(), nullable=False),
        sa.Column('author_user_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('client_key', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_tablo_messages_author_user_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_messages_tablo_id_tablos'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_messages')),
        sa.UniqueConstraint('author_user_id', 'client_key', name=op.f('uq_tablo_messages_author_user_id')),
    )
    with op.batch_alter_table('tablo_messages', schema=None) as batch_op:
        batch_op.create_index('ix_tablo_messages_tablo_id_id', ['tablo_id', 'id'], unique=False)
    op.create_table(
        'tablo_message_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tablo_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('created', 'edited', 'deleted')", name=op.f('ck_tablo_message_changes_kind')),
        sa.ForeignKeyConstraint(['message_id'], ['tablo_messages.id'], name=op.f('fk_tablo_message_changes_message_id_tablo_messages'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_message_changes_tablo_id_tablos'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_message_changes')),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('tablo_message_changes', schema=None) as batch_op:
        batch_op.create_index('ix_tablo_message_changes_tablo_id_id', ['tablo_id', 'id'], unique=False)
    with op.batch_alter_table('tablo_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_read_message_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('tablo_members', schema=None) as batch_op:
        batch_op.drop_column('last_read_message_id')
    with op.batch_alter_table('tablo_message_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_tablo_message_changes_tablo_id_id')
    op.drop_table('tablo_message_changes')
    with op.batch_alter_table('tablo_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_tablo_messages_tablo_id_id')
    op.drop_table('tablo_messages')
