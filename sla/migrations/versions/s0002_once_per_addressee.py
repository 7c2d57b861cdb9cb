"""alerts once per (case, step, level) and person; working days used on each clock

Revision ID: s0002
Revises: s0001
Create Date: 2026-12-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 's0002'
down_revision = 's0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sla_alert_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('addressee', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('step', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('level', sa.String(length=8), nullable=True))
        batch_op.create_unique_constraint('uq_sla_alert_deliveries_addressee',
                                          ['case_id', 'step', 'level', 'channel', 'addressee'])
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_working_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.drop_column('used_working_days')
    with op.batch_alter_table('sla_alert_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sla_alert_deliveries_addressee', type_='unique')
        batch_op.drop_column('level')
        batch_op.drop_column('step')
        batch_op.drop_column('case_id')
        batch_op.drop_column('addressee')
