"""applicant sessions: applicants signed in through the identity service (统一身份认证)

Revision ID: e0008
Revises: e0007
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = 'e0008'
down_revision = 'e0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applicant_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issuer', sa.String(length=256), nullable=False),
    sa.Column('subject', sa.String(length=256), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('organizations', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.Column('acting_for', sa.String(length=18), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applicant_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_applicant_sessions_token_hash'))
    )
    with op.batch_alter_table('applicant_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applicant_sessions_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('applicant_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applicant_sessions_expires_at'))
    op.drop_table('applicant_sessions')
