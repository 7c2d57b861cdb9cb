"""task candidates (further groups and candidate users of a task), message waits, message start events

Revision ID: e0006
Revises: e0005
Create Date: 2026-12-02 18:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e0006'
down_revision = 'e0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('task_candidates',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_candidates_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'kind', 'name', name=op.f('pk_task_candidates'))
    )
    with op.batch_alter_table('task_candidates', schema=None) as batch_op:
        batch_op.create_index('ix_task_candidates_kind_name', ['kind', 'name', 'task_id'], unique=False)

    op.create_table('message_waits',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('correlation_key', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_message_waits_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'name', name=op.f('pk_message_waits'))
    )
    with op.batch_alter_table('message_waits', schema=None) as batch_op:
        batch_op.create_index('ix_message_waits_name_key', ['name', 'correlation_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_waits_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('candidates', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=True))

    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_messages', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.drop_column('start_messages')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('candidates')
    with op.batch_alter_table('message_waits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_waits_case_id'))
        batch_op.drop_index('ix_message_waits_name_key')
    op.drop_table('message_waits')
    with op.batch_alter_table('task_candidates', schema=None) as batch_op:
        batch_op.drop_index('ix_task_candidates_kind_name')
    op.drop_table('task_candidates')
