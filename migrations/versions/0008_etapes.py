"""Étapes: `etapes` (the ordered stages of a tablo) and `tasks.etape_id`, which the database sets
to NULL when its étape is deleted (the tasks stay on the board).

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'etapes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tablo_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('position >= 0', name=op.f('ck_etapes_position')),
        sa.ForeignKeyConstraint(['tablo_id'], ['tablos.id'], name=op.f('fk_etapes_tablo_id_tablos'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_etapes')),
    )
    with op.batch_alter_table('etapes', schema=None) as batch_op:
        batch_op.create_index('ix_etapes_tablo_order', ['tablo_id', 'position'], unique=False)
    # On SQLite this rebuilds `tasks` (batch mode); nothing references `tasks`, so dropping the
    # old copy cascades nowhere.
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('etape_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tasks_etape_id'), ['etape_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tasks_etape_id_etapes'), 'etapes', ['etape_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_etape_id_etapes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tasks_etape_id'))
        batch_op.drop_column('etape_id')
    with op.batch_alter_table('etapes', schema=None) as batch_op:
        batch_op.drop_index('ix_etapes_tablo_order')
    op.drop_table('etapes')
