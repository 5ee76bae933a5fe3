"""Control from outside: the commands received, and an index to find a workflow's hooks.

``control_command`` remembers each command id (per workflow) with the answer it got, so a
repeated command is answered again instead of acting twice (``mcs.api.services.control``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_command",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "workflow_id", sa.BigInteger(), sa.ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("command_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("sent_by", sa.String(200), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("answer", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("workflow_id", "command_id", name="uq_control_command"),
    )
    # Retention deletes by age.
    op.create_index("ix_control_command_received", "control_command", ["received_at"])
    op.create_index("ix_trigger_binding_workflow", "trigger_binding", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_trigger_binding_workflow", table_name="trigger_binding")
    op.drop_table("control_command")
