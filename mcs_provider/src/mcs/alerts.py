"""Alerts: a run failed or a wait ran out of time; tell the people the workflow names.

:func:`raise_alert` is called where the failure is noticed (an Airflow listener, the gateway's
watcher). It only records an ``alert`` event, once per run (and node), when the workflow's
published ``alerts.on`` asks for it. The gateway reads alert events from the event stream,
publishes them on ``mcs/workflows/{key}/events`` when ``alerts.mqtt`` is on, and posts them to
``alerts.webhooks`` with :func:`send_webhook`, so no webhook call ever holds up the scheduler.

Webhook bodies: ``json`` is a plain object (:func:`alert_fields`); ``dingtalk`` and ``wecom``
are their group robots' ``markdown`` messages, ``feishu`` its custom bot's ``text`` message.
Webhook URLs carry secrets (a query string token, or a path token for Feishu), so they are
logged only through :func:`redact_url` and never put into an event.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from mcs.db.engine import session_scope
from mcs.db.models import Workflow, WorkflowRun, WorkflowVersion
from mcs.definition.model import Alerts
from mcs.events.record import claim_change, record_event

log = logging.getLogger(__name__)

ALERT_KINDS = ("run_failed", "wait_timeout")
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_RETRIES = 2
RETRY_PAUSES = (1.0, 3.0)
TITLES = {"run_failed": "MCS 告警：工作流运行失败", "wait_timeout": "MCS 告警：等待超时"}
# The WeCom robot rejects markdown over 4096 bytes; the others allow more.
MAX_TEXT_BYTES = 4000
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-]{16,}$")


def run_alert_settings(run_id: int) -> tuple[Alerts, str] | None:
    """The ``alerts`` of the published version a run runs, and the workflow's name; None if no run."""
    with session_scope() as session:
        row = session.execute(
            select(WorkflowVersion.definition, Workflow.name)
            .select_from(WorkflowRun)
            .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
            .outerjoin(
                WorkflowVersion,
                (WorkflowVersion.workflow_id == WorkflowRun.workflow_id)
                & (WorkflowVersion.version == WorkflowRun.version),
            )
            .where(WorkflowRun.id == run_id)
        ).first()
    if row is None:
        return None
    definition, name = row
    try:
        return Alerts.model_validate((definition or {}).get("alerts") or {}), name
    except ValueError as exc:
        log.warning("The alerts of run %s are not valid (using the defaults): %s", run_id, exc)
        return Alerts(), name


def _run_of(dag_id: str, dag_run_id: str) -> int | None:
    with session_scope() as session:
        return session.scalar(
            select(WorkflowRun.id).where(WorkflowRun.dag_id == dag_id, WorkflowRun.dag_run_id == dag_run_id)
        )


def raise_alert(
    dag_id: str,
    dag_run_id: str,
    alert: str,
    *,
    node_key: str | None = None,
    reason: str = "",
    failed_nodes: list[str] | tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Record an ``alert`` event if the workflow asks for this alert and it was not raised yet.

    Returns the event, or None. Never raises.

    :param dag_id: the Airflow dag_id.
    :param dag_run_id: the Airflow run id.
    :param alert: ``run_failed`` or ``wait_timeout``.
    :param node_key: the wait that timed out.
    :param reason: why, for people (Airflow's reason, the wait's error).
    :param failed_nodes: for ``run_failed``, the nodes that failed.
    """
    try:
        run_id = _run_of(dag_id, dag_run_id)
        found = run_alert_settings(run_id) if run_id is not None else None
        if found is None or alert not in found[0].on:
            return None
        changed, _ = claim_change(dag_id, dag_run_id, f"alert:{alert}:{node_key or ''}", "1")
        if not changed:
            return None
        if alert == "wait_timeout":
            message = f"the wait `{node_key}` timed out: {reason}"
        else:
            failed = ", ".join(f"`{key}`" for key in failed_nodes) or "none"
            message = f"the run failed ({reason or 'no reason given'}); failed nodes: {failed}"
        data = {
            "alert": alert,
            "workflow_name": found[1],
            "reason": reason[:2000],
            "failed_nodes": list(failed_nodes),
        }
        return record_event(
            dag_id, dag_run_id, "alert", node_key=node_key, state=alert, message=message, data=data
        )
    except Exception:
        log.exception("Could not raise the %s alert of %s/%s", alert, dag_id, dag_run_id)
        return None


def alert_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The plain JSON object of an alert event (the ``json`` webhook format)."""
    data = event.get("data") or {}
    return {
        "alert": event.get("state"),
        "workflow_key": event.get("workflow_key"),
        "workflow_name": data.get("workflow_name", ""),
        "run_id": event.get("run_id"),
        "dag_run_id": event.get("dag_run_id"),
        "node_key": event.get("node_key"),
        "reason": data.get("reason", ""),
        "failed_nodes": data.get("failed_nodes", []),
        "message": event.get("message", ""),
        "event_id": event.get("id"),
        "created_at": event.get("created_at"),
    }


def _clip(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "..."


def _lines(fields: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [
        ("工作流", f"{fields['workflow_name']}（{fields['workflow_key']}）"),
        ("运行", f"#{fields['run_id']}（{fields['dag_run_id']}）"),
    ]
    if fields["node_key"]:
        lines.append(("节点", str(fields["node_key"])))
    if fields["failed_nodes"]:
        lines.append(("失败节点", "、".join(fields["failed_nodes"])))
    if fields["reason"]:
        lines.append(("原因", str(fields["reason"])))
    lines.append(("时间", str(fields["created_at"])))
    return lines


def webhook_body(webhook_format: str, event: dict[str, Any]) -> dict[str, Any]:
    """The body to POST for an alert event in ``webhook_format`` (json, dingtalk, wecom, feishu)."""
    fields = alert_fields(event)
    if webhook_format == "json":
        return fields
    title = TITLES.get(str(fields["alert"]), "MCS 告警")
    lines = _lines(fields)
    if webhook_format == "feishu":
        text = "\n".join([title, *(f"{name}：{value}" for name, value in lines)])
        return {"msg_type": "text", "content": {"text": _clip(text)}}
    markdown = "\n".join([f"### {title}", *(f"- **{name}**：{value}" for name, value in lines)])
    if webhook_format == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": _clip(markdown)}}
    if webhook_format == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _clip(markdown)}}
    raise ValueError(f"unknown webhook format {webhook_format!r}, expected json, dingtalk, wecom or feishu")


def redact_url(url: str) -> str:
    """The URL without user info, query string and fragment, and with token-like path segments hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = "/".join("***" if _TOKEN_LIKE.match(segment) else segment for segment in parts.path.split("/"))
    return f"{parts.scheme}://{host}{path}"


class _RedactedRequestLines(logging.Filter):
    """httpx logs every request with its full URL at INFO; hide a webhook's secrets there too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _sending.get() and isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, httpx.URL | str) and "://" in str(arg) else arg
                for arg in record.args
            )
        return True


_sending: contextvars.ContextVar[bool] = contextvars.ContextVar("mcs_sending_webhook", default=False)
logging.getLogger("httpx").addFilter(_RedactedRequestLines())


def _answer_error(response: httpx.Response) -> str | None:
    """The robot's own error in a 2xx answer (``errcode`` of DingTalk/WeCom, ``code`` of Feishu)."""
    try:
        answer = response.json()
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    for key, text_key in (("errcode", "errmsg"), ("code", "msg")):
        if answer.get(key) not in (None, 0, "0"):
            return f"{key} {answer.get(key)}: {answer.get(text_key, '')}"
    return None


async def send_webhook(
    client: httpx.AsyncClient, url: str, webhook_format: str, event: dict[str, Any]
) -> bool:
    """POST an alert event to one webhook: 5 s timeout, 2 retries on network errors, 5xx and 429.

    Returns whether it was delivered. Failures are logged with :func:`redact_url`, never raised.

    :param client: the HTTP client to send with.
    :param url: the webhook's URL.
    :param webhook_format: ``json``, ``dingtalk``, ``wecom`` or ``feishu``.
    :param event: the alert event.
    """
    body = webhook_body(webhook_format, event)
    where = redact_url(url)
    _sending.set(True)
    for attempt in range(WEBHOOK_RETRIES + 1):
        try:
            response = await client.post(url, json=body, timeout=WEBHOOK_TIMEOUT)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}"
        else:
            if response.is_success:
                error = _answer_error(response)
                if error is None:
                    log.info(
                        "Sent the %s alert of run %s to %s", event.get("state"), event.get("run_id"), where
                    )
                    return True
                log.warning(
                    "The webhook %s refused the alert of run %s: %s", where, event.get("run_id"), error
                )
                return False
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                log.warning(
                    "The webhook %s refused the alert of run %s: %s", where, event.get("run_id"), problem
                )
                return False
        if attempt < WEBHOOK_RETRIES:
            log.info("The webhook %s failed (%s); retrying", where, problem)
            await asyncio.sleep(RETRY_PAUSES[attempt])
    log.warning(
        "Gave up sending the alert of run %s to %s after %s attempts: %s",
        event.get("run_id"),
        where,
        WEBHOOK_RETRIES + 1,
        problem,
    )
    return False
