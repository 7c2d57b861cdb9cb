"""sign-in counters (failed sign-in throttling shared by every web process)

Revision ID: e0005
Revises: e0004
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = 'e0005'
down_revision = 'e0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_counters',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('window_start', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_counters'))
    )
    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_counters_window_start'), ['window_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_counters_window_start'))
    op.drop_table('sign_in_counters')
