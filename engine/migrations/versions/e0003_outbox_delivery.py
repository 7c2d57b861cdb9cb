"""the outbox guarantees delivery: delivered_at, attempts, next_attempt_at; the scheduler's last run

Revision ID: e0003
Revises: e0002
Create Date: 2026-12-01 10:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = 'e0003'
down_revision = 'e0002'
branch_labels = None
depends_on = None

UNDELIVERED = "domain AND delivered_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', engine.db.UTCDateTime(timezone=True), nullable=True))
    # Events some subscriber already recorded were delivered under the old rule (dispatch); those no
    # subscriber ever recorded stay undelivered, so the outbox hands them out again.
    op.execute("UPDATE case_events SET delivered_at = COALESCE(dispatched_at, at) WHERE domain AND EXISTS "
               "(SELECT 1 FROM event_deliveries d WHERE d.event_id = case_events.id)")
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index('ix_case_events_undelivered', ['case_id', 'id'], unique=False,
                              postgresql_where=sa.text(UNDELIVERED), sqlite_where=sa.text(UNDELIVERED))
    op.create_table('scheduler_runs',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('started_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('hook_seconds', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_runs'))
    )


def downgrade() -> None:
    op.drop_table('scheduler_runs')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_case_events_undelivered')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('delivered_at')
