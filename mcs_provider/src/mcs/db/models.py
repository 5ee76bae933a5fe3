"""Tables of the ``mcs`` database (see ``docs/data-model.md`` for the diagram and the reasons).

A workflow has one editable draft and a list of immutable published versions. Nodes and edges
are stored as rows per version (and for the draft, with ``version_id`` NULL) so that questions
such as "which workflows publish to topic X" are plain SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Workflow(Base):
    __tablename__ = "workflow"
    __table_args__ = (
        Index("uq_workflow_key_live", "key", unique=True, postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    owner: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    tags: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    draft: Mapped[dict] = mapped_column(JSONB, nullable=False)
    latest_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    versions: Mapped[list[WorkflowVersion]] = relationship(
        back_populates="workflow", order_by="WorkflowVersion.version"
    )


class WorkflowVersion(Base):
    __tablename__ = "workflow_version"
    __table_args__ = (UniqueConstraint("workflow_id", "version", name="uq_workflow_version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    definition: Mapped[dict] = mapped_column(JSONB, nullable=False)
    schedule: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    params: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    published_by: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    published_at: Mapped[datetime] = _now()

    workflow: Mapped[Workflow] = relationship(back_populates="versions")


class TaskNode(Base):
    __tablename__ = "task_node"
    __table_args__ = (
        Index("ix_task_node_version", "workflow_id", "version_id"),
        Index("ix_task_node_kind", "kind"),
        Index("ix_task_node_topic", text("(config->>'topic')")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False)
    # NULL while the node belongs to the draft.
    version_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_version.id", ondelete="CASCADE"))
    node_key: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    parent_key: Mapped[str | None] = mapped_column(String(100))
    config: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)


class TaskEdge(Base):
    __tablename__ = "task_edge"
    __table_args__ = (Index("ix_task_edge_version", "workflow_id", "version_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_version.id", ondelete="CASCADE"))
    source_key: Mapped[str] = mapped_column(String(100), nullable=False)
    target_key: Mapped[str] = mapped_column(String(100), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False, default="")


class TriggerBinding(Base):
    __tablename__ = "trigger_binding"
    __table_args__ = (Index("ix_trigger_binding_workflow", "workflow_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # mqtt | http
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # start | stop | message
    topic: Mapped[str | None] = mapped_column(String(400))
    token_hash: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = _now()
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorkflowRun(Base):
    __tablename__ = "workflow_run"
    __table_args__ = (
        UniqueConstraint("dag_id", "dag_run_id", name="uq_workflow_run_dag_run"),
        Index(
            "uq_workflow_run_command",
            "workflow_id",
            "command_id",
            unique=True,
            postgresql_where=text("command_id IS NOT NULL"),
        ),
        Index("ix_workflow_run_workflow_started", "workflow_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    dag_id: Mapped[str] = mapped_column(String(250), nullable=False)
    dag_run_id: Mapped[str] = mapped_column(String(250), nullable=False)
    # ui | api | mqtt | http_hook | schedule | parent
    started_by_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    started_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    trigger_payload: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    command_id: Mapped[str | None] = mapped_column(String(200))
    # queued | running | success | failed | stopped
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_by: Mapped[str | None] = mapped_column(String(200))
    stop_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class ControlCommand(Base):
    """A command received from outside (MQTT or an HTTP hook) and the answer it got.

    The unique ``(workflow_id, command_id)`` makes a repeated command id answer again instead of
    acting again, for every action; rows older than ``[mcs] command_retention_days`` are deleted.
    """

    __tablename__ = "control_command"
    __table_args__ = (
        UniqueConstraint("workflow_id", "command_id", name="uq_control_command"),
        Index("ix_control_command_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), nullable=False)
    command_id: Mapped[str] = mapped_column(String(200), nullable=False)
    # start | stop | enable | disable
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    # mqtt | http_hook
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    sent_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    answer: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    received_at: Mapped[datetime] = _now()


class RunEvent(Base):
    __tablename__ = "run_event"
    __table_args__ = (Index("ix_run_event_run", "run_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_run.id", ondelete="CASCADE"), nullable=False)
    node_key: Mapped[str | None] = mapped_column(String(100))
    # run_state | node_state | skip | end | command | message_matched
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    state: Mapped[str | None] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    created_at: Mapped[datetime] = _now()


class DeviceMessage(Base):
    __tablename__ = "device_message"
    __table_args__ = (Index("ix_device_message_topic_time", "topic", "received_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    topic: Mapped[str] = mapped_column(String(400), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(10), nullable=False)  # mqtt | http
    client_id: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    received_at: Mapped[datetime] = _now()
