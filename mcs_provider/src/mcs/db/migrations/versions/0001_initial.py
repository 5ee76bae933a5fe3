"""The first tables of the ``mcs`` database.

Written by hand to match ``mcs/db/models.py``; ``tests/integration/test_migrations.py`` fails if
the two ever drift apart.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger(), primary_key=True)


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _workflow_id() -> sa.Column:
    return sa.Column(
        "workflow_id", sa.BigInteger(), sa.ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False
    )


def _version_id() -> sa.Column:
    # NULL while the row belongs to the workflow's draft.
    return sa.Column(
        "version_id", sa.BigInteger(), sa.ForeignKey("workflow_version.id", ondelete="CASCADE"), nullable=True
    )


def upgrade() -> None:
    op.create_table(
        "workflow",
        _id(),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("tags", postgresql.JSONB(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("draft", postgresql.JSONB(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=True),
        _created_at(),
        _created_at("updated_at"),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Unique among live workflows only: a deleted workflow's key can be taken again.
    op.create_index(
        "uq_workflow_key_live",
        "workflow",
        ["key"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "workflow_version",
        _id(),
        _workflow_id(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("definition", postgresql.JSONB(), nullable=False),
        sa.Column("schedule", postgresql.JSONB(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("published_by", sa.String(100), nullable=False),
        _created_at("published_at"),
        sa.UniqueConstraint("workflow_id", "version", name="uq_workflow_version"),
    )

    op.create_table(
        "task_node",
        _id(),
        _workflow_id(),
        _version_id(),
        sa.Column("node_key", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_key", sa.String(100), nullable=True),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("position", postgresql.JSONB(), nullable=False),
    )
    op.create_index("ix_task_node_version", "task_node", ["workflow_id", "version_id"])
    op.create_index("ix_task_node_kind", "task_node", ["kind"])
    # Answers "which workflows publish to topic X" without reading every node's config.
    op.create_index("ix_task_node_topic", "task_node", [sa.text("(config->>'topic')")])

    op.create_table(
        "task_edge",
        _id(),
        _workflow_id(),
        _version_id(),
        sa.Column("source_key", sa.String(100), nullable=False),
        sa.Column("target_key", sa.String(100), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
    )
    op.create_index("ix_task_edge_version", "task_edge", ["workflow_id", "version_id"])

    op.create_table(
        "trigger_binding",
        _id(),
        _workflow_id(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(400), nullable=True),
        sa.Column("token_hash", sa.String(200), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _created_at(),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
    )

    op.create_table(
        "workflow_run",
        _id(),
        _workflow_id(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("dag_run_id", sa.String(250), nullable=False),
        sa.Column("started_by_kind", sa.String(20), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("trigger_payload", postgresql.JSONB(), nullable=False),
        sa.Column("command_id", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(200), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        _created_at(),
        sa.UniqueConstraint("dag_id", "dag_run_id", name="uq_workflow_run_dag_run"),
    )
    # The same command id twice must start one run, not two.
    op.create_index(
        "uq_workflow_run_command",
        "workflow_run",
        ["workflow_id", "command_id"],
        unique=True,
        postgresql_where=sa.text("command_id IS NOT NULL"),
    )
    op.create_index("ix_workflow_run_workflow_started", "workflow_run", ["workflow_id", "created_at"])

    op.create_table(
        "run_event",
        _id(),
        sa.Column(
            "run_id", sa.BigInteger(), sa.ForeignKey("workflow_run.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("node_key", sa.String(100), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("state", sa.String(30), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        _created_at(),
    )
    op.create_index("ix_run_event_run", "run_event", ["run_id", "id"])

    op.create_table(
        "device_message",
        _id(),
        sa.Column("topic", sa.String(400), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        _created_at("received_at"),
    )
    op.create_index("ix_device_message_topic_time", "device_message", ["topic", "received_at"])


def downgrade() -> None:
    # Dependents first; dropping a table drops its indexes and constraints with it.
    for table in (
        "device_message",
        "run_event",
        "workflow_run",
        "trigger_binding",
        "task_edge",
        "task_node",
        "workflow_version",
        "workflow",
    ):
        op.drop_table(table)
