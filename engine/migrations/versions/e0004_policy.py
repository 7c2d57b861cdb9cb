"""policy: user roles, the group or role a case was started under, who may deliver each message

Revision ID: e0004
Revises: e0003
Create Date: 2026-12-01 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e0004'
down_revision = 'e0003'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql')


def upgrade() -> None:
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_as', sa.String(length=64), nullable=True))
    # Definitions deployed before this revision name no senders: their messages are the system's only.
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_senders', JSON, nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.drop_column('message_senders')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('started_as')
    op.drop_table('user_roles')
