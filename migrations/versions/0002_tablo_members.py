"""Shared tablos: members with roles, email invitations, invitation links.

The creator of each existing tablo becomes its first owner; tablos.owner_id becomes
created_by_id (kept for the record, SET NULL when that account goes).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

ROLE_CHECK = "role IN ('viewer', 'editor', 'owner')"


def upgrade():
    op.create_table('tablo_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tablo_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(ROLE_CHECK, name=op.f('ck_tablo_members_role')),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_tablo_members_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_members_tablo_id_tablos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tablo_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_members')),
    sa.UniqueConstraint('tablo_id', 'user_id', name=op.f('uq_tablo_members_tablo_id'))
    )
    with op.batch_alter_table('tablo_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tablo_members_user_id'), ['user_id'], unique=False)

    op.create_table('tablo_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tablo_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(ROLE_CHECK, name=op.f('ck_tablo_invitations_role')),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_tablo_invitations_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_invitations_tablo_id_tablos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_invitations')),
    sa.UniqueConstraint('tablo_id', 'email', name=op.f('uq_tablo_invitations_tablo_id'))
    )
    with op.batch_alter_table('tablo_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tablo_invitations_email'), ['email'], unique=False)

    op.create_table('tablo_invite_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tablo_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(ROLE_CHECK, name=op.f('ck_tablo_invite_links_role')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tablo_invite_links_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_tablo_invite_links_tablo_id_tablos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tablo_invite_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_tablo_invite_links_token_hash'))
    )
    with op.batch_alter_table('tablo_invite_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tablo_invite_links_tablo_id'), ['tablo_id'], unique=False)

    # Every existing tablo's creator becomes its first owner.
    op.execute(
        "INSERT INTO tablo_members (tablo_id, user_id, role, added_by_id, created_at, updated_at) "
        "SELECT id, owner_id, 'owner', owner_id, created_at, created_at FROM tablos"
    )

    with op.batch_alter_table('tablos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tablos_owner_id'))
        batch_op.drop_constraint(batch_op.f('fk_tablos_owner_id_users'), type_='foreignkey')
        batch_op.alter_column('owner_id', new_column_name='created_by_id', existing_type=sa.Integer(), nullable=True)
    # A second batch: SQLite's batch mode cannot add a key on a column renamed in the same batch.
    with op.batch_alter_table('tablos', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_tablos_created_by_id_users'), 'users', ['created_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    # A tablo goes back to one owner: its earliest remaining owner member.
    with op.batch_alter_table('tablos', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tablos_created_by_id_users'), type_='foreignkey')
        batch_op.alter_column('created_by_id', new_column_name='owner_id', existing_type=sa.Integer(), nullable=True)
    op.execute(
        "UPDATE tablos SET owner_id = (SELECT m.user_id FROM tablo_members m WHERE m.tablo_id = tablos.id "
        "AND m.role = 'owner' ORDER BY m.created_at, m.id LIMIT 1)"
    )
    with op.batch_alter_table('tablos', schema=None) as batch_op:
        batch_op.alter_column('owner_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_tablos_owner_id_users'), 'users', ['owner_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_tablos_owner_id'), ['owner_id'], unique=False)
    op.drop_table('tablo_invite_links')
    op.drop_table('tablo_invitations')
    op.drop_table('tablo_members')
