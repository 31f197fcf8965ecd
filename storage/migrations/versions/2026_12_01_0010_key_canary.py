"""key_canary: one value encrypted under the keys, for `utvag check` to read back

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The row itself is written by the first process that has the keys (`utvag run`, `utvag check`): a migration has none.
    op.create_table(
        'key_canary',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('pseudonym', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_canary')),
    )


def downgrade() -> None:
    op.drop_table('key_canary')
