"""The topics the gateway listens on: device topics of the published waits, and the command topic.

Device topics come from the ``mqtt_wait`` nodes of every live workflow's latest published
version, plus ``[mcs] device_topics``. Commands arrive on ``mcs/workflows/{key}/command`` and are
answered on ``mcs/workflows/{key}/ack``; ``mcs`` is ``[mcs] topic_prefix``.
"""

from __future__ import annotations

import logging
import re

from mcs import settings

log = logging.getLogger(__name__)

_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _prefix() -> str:
    return settings.get("topic_prefix").strip("/") or "mcs"


def workflow_topic(key: str, leaf: str) -> str:
    """``<[mcs] topic_prefix>/workflows/{key}/{leaf}``: MCS's own topic ``leaf`` of a workflow.

    :param key: the workflow key, or ``+`` for a filter over every workflow.
    :param leaf: ``command``, ``ack`` or ``events``.
    """
    return f"{_prefix()}/workflows/{key}/{leaf}"


def command_filter() -> str:
    return workflow_topic("+", "command")


def command_key(topic: str) -> str | None:
    """The workflow key of a command topic ``<prefix>/workflows/{key}/command``, else ``None``.

    :param topic: a concrete topic name.
    """
    start = f"{_prefix()}/workflows/"
    if not topic.startswith(start):
        return None
    key, _, leaf = topic[len(start) :].partition("/")
    return key if key and leaf == "command" else None


def ack_topic(key: str) -> str:
    return workflow_topic(key, "ack")


def subscribable_filter(topic: str) -> str | None:
    """Return the filter to subscribe to for a wait's ``topic``, or ``None`` (logged) if there is none.

    A level that is wholly a template (``devices/{{ params.id }}/reply``) becomes ``+``; a template
    inside a level or across levels cannot be subscribed to and the filter is skipped.

    :param topic: the topic filter as the workflow names it.
    """
    topic = (topic or "").strip()
    if not topic:
        return None
    if any("/" in span for span in _TEMPLATE.findall(topic)):
        log.warning("Skipping topic %s: a template spans several levels", topic)
        return None
    levels = []
    for level in topic.split("/"):
        if _TEMPLATE.fullmatch(level.strip()):
            levels.append("+")
        elif "{{" in level or "{%" in level or "}}" in level:
            log.warning("Skipping topic %s: a level mixes text and a template", topic)
            return None
        else:
            levels.append(level)
    if _TEMPLATE.search(topic) and all(level == "+" for level in levels):
        log.warning("Skipping topic %s: it is wholly a template", topic)
        return None
    result = "/".join(levels)
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            log.warning("Skipping topic %s: not a valid MQTT topic filter", topic)
            return None
    return result


def wait_topics(workflow_key: str | None = None) -> set[str]:
    """The topics of the ``mqtt_wait`` nodes of every live workflow's (or one's) latest published version.

    :param workflow_key: only this workflow's; every workflow's when ``None``.
    """
    from sqlalchemy import and_, select

    from mcs.db.engine import session_scope
    from mcs.db.models import TaskNode, Workflow, WorkflowVersion

    query = (
        select(TaskNode.config["topic"].astext)
        .join(WorkflowVersion, TaskNode.version_id == WorkflowVersion.id)
        .join(
            Workflow,
            and_(
                Workflow.id == WorkflowVersion.workflow_id, Workflow.latest_version == WorkflowVersion.version
            ),
        )
        .where(TaskNode.kind == "mqtt_wait", Workflow.deleted_at.is_(None))
        .distinct()
    )
    if workflow_key is not None:
        query = query.where(Workflow.key == workflow_key)
    with session_scope(settings.database_url()) as session:
        return {topic for topic in session.scalars(query) if topic}


def wanted_filters(from_db: set[str]) -> set[str]:
    configured = {t.strip() for t in settings.get("device_topics").split(",") if t.strip()}
    return {f for f in map(subscribable_filter, from_db | configured) if f}
