"""audit log: personal data shown whole and security events, append-only

Revision ID: e0002
Revises: e0001
Create Date: 2026-11-24 10:00:00

The triggers are why this table is not like the others: the database itself refuses to change a row,
and refuses to delete one younger than six months (the least PIPL and GB/T 22239 ask for), whoever
sends the statement. Rows older than that may be archived and deleted by the database's operator.
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = 'e0002'
down_revision = 'e0001'
branch_labels = None
depends_on = None

RETENTION = "6 months"

_PG_FUNCTION = f"""
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < now() - interval '{RETENTION}' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: rows younger than {RETENTION} are never deleted';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$
"""

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       WHEN old.at > datetime('now', '-{RETENTION}')
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows younger than {RETENTION} are never deleted'); END""",
]


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=48), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('subject_ref', sa.String(length=64), nullable=True),
    sa.Column('case_no', sa.String(length=32), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_case_no_id', ['case_no', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_subject_id', ['subject', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_username_id', ['username', 'id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("DROP TRIGGER audit_log_no_update")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_username_id')
        batch_op.drop_index('ix_audit_log_subject_id')
        batch_op.drop_index('ix_audit_log_case_no_id')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
