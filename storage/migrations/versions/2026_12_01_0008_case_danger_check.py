"""cases: the danger check question (asked, answered, alerted when unanswered)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_answered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_alerted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('check_alerted_at')
        batch_op.drop_column('check_answered_at')
        batch_op.drop_column('check_asked_at')
