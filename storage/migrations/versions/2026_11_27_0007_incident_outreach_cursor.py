"""incident outreach queued in chunks: a cursor and the moment queuing finished

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_through', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
    # Outreach confirmed before this revision was queued whole, in the confirming transaction.
    op.execute("UPDATE incidents SET queued_at = confirmed_at WHERE state IN ('sending', 'done')")


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('queued_at')
        batch_op.drop_column('queued_through')
