"""web chat: a keyed hash of the person's resume code; no visitor id left in clear in provider ids

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 14:45:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resume_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_identity_resume', ['resume_hash'])
    # Before this revision a web-chat visitor's first message kept "start:<cookie>" as its provider id, in clear:
    # a copy of the database could open the chat. The id has done its work (the conversation exists); drop it.
    op.execute("UPDATE messages SET provider_id = NULL WHERE channel = 'webchat' AND provider_id LIKE 'start:%'")


def downgrade() -> None:
    with op.batch_alter_table('channel_identities', schema=None) as batch_op:
        batch_op.drop_constraint('uq_identity_resume', type_='unique')
        batch_op.drop_column('resume_hash')
