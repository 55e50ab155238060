"""exchange: numbered audit checkpoints

Checkpoints get a ``number`` (1, 2, 3 ... without gaps, unique) so that a deleted checkpoint
shows as a gap and the newest one can be witnessed outside the database. Existing checkpoints
are numbered in the order they were written (they keep their unnumbered v1 signatures).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-04 08:23:15.200464
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "exchange_audit_checkpoint"
NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", NUMBER, nullable=True))
    checkpoints = sa.table(TABLE, sa.column("id", sa.Integer), sa.column("number", NUMBER))
    connection = op.get_bind()
    ids = list(connection.scalars(sa.select(checkpoints.c.id).order_by(checkpoints.c.id)))
    for number, checkpoint_id in enumerate(ids, start=1):
        connection.execute(
            sa.update(checkpoints).where(checkpoints.c.id == checkpoint_id).values(number=number)
        )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=NUMBER, nullable=False)
        batch_op.create_index("ux_exchange_audit_checkpoint_number", ["number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ux_exchange_audit_checkpoint_number")
        batch_op.drop_column("number")
