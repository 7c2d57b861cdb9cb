"""opinions (审批意见): one append-only row per signed opinion

Revision ID: e0007
Revises: e0006
Create Date: 2026-12-02 18:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = 'e0007'
down_revision = 'e0006'
branch_labels = None
depends_on = None

# A signed opinion is a record of the file: neither the application nor an operator's slip may change
# or remove it, so the database itself refuses UPDATE and DELETE.
PG_FUNCTION = """
CREATE FUNCTION opinions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'opinions are append-only: % refused', TG_OP;
END;
$$
"""


def upgrade() -> None:
    op.create_table('opinions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('element_id', sa.String(length=128), nullable=False),
    sa.Column('step_name', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('decision', sa.String(length=64), nullable=True),
    sa.Column('decision_label', sa.String(length=128), nullable=False),
    sa.Column('signer', sa.String(length=64), nullable=False),
    sa.Column('signer_name', sa.String(length=128), nullable=False),
    sa.Column('signer_group', sa.String(length=64), nullable=False),
    sa.Column('signer_role', sa.String(length=16), nullable=False),
    sa.Column('signed_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_opinions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opinions'))
    )
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opinions_case_id'), ['case_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER opinions_append_only BEFORE UPDATE OR DELETE ON opinions "
                   "FOR EACH ROW EXECUTE FUNCTION opinions_append_only()")
    else:
        for what in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER opinions_no_{what.lower()} BEFORE {what} ON opinions "
                       f"BEGIN SELECT RAISE(ABORT, 'opinions are append-only: {what} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS opinions_append_only ON opinions")
        op.execute("DROP FUNCTION IF EXISTS opinions_append_only()")
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opinions_case_id'))
    op.drop_table('opinions')
