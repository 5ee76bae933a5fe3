"""Alert webhook bodies (json, DingTalk, WeCom, Feishu), URL redaction and the webhook retries."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from mcs import alerts

RUN_FAILED = {
    "id": 41,
    "run_id": 7,
    "workflow_key": "pump_check",
    "dag_run_id": "mcs__20260101T000000_ab12cd34",
    "kind": "alert",
    "node_key": None,
    "state": "run_failed",
    "message": "the run failed (task_failure); failed nodes: `report`",
    "data": {
        "alert": "run_failed",
        "workflow_name": "水泵读数",
        "reason": "task_failure",
        "failed_nodes": ["report"],
    },
    "created_at": "2026-01-01T00:00:05Z",
}
WAIT_TIMEOUT = {
    **RUN_FAILED,
    "id": 40,
    "node_key": "reply",
    "state": "wait_timeout",
    "message": "the wait `reply` timed out: no message within 3s",
    "data": {
        "alert": "wait_timeout",
        "workflow_name": "水泵读数",
        "reason": "no message within 3s",
        "failed_nodes": [],
    },
}


def test_json_body_is_the_plain_alert_object():
    assert alerts.webhook_body("json", RUN_FAILED) == {
        "alert": "run_failed",
        "workflow_key": "pump_check",
        "workflow_name": "水泵读数",
        "run_id": 7,
        "dag_run_id": "mcs__20260101T000000_ab12cd34",
        "node_key": None,
        "reason": "task_failure",
        "failed_nodes": ["report"],
        "message": "the run failed (task_failure); failed nodes: `report`",
        "event_id": 41,
        "created_at": "2026-01-01T00:00:05Z",
    }


def test_dingtalk_body_is_a_markdown_message_with_title_and_text():
    body = alerts.webhook_body("dingtalk", RUN_FAILED)

    assert body == {
        "msgtype": "markdown",
        "markdown": {
            "title": "MCS 告警：工作流运行失败",
            "text": "### MCS 告警：工作流运行失败\n"
            "- **工作流**：水泵读数（pump_check）\n"
            "- **运行**：#7（mcs__20260101T000000_ab12cd34）\n"
            "- **失败节点**：report\n"
            "- **原因**：task_failure\n"
            "- **时间**：2026-01-01T00:00:05Z",
        },
    }


def test_wecom_body_is_a_markdown_message_with_content():
    body = alerts.webhook_body("wecom", WAIT_TIMEOUT)

    assert body == {
        "msgtype": "markdown",
        "markdown": {
            "content": "### MCS 告警：等待超时\n"
            "- **工作流**：水泵读数（pump_check）\n"
            "- **运行**：#7（mcs__20260101T000000_ab12cd34）\n"
            "- **节点**：reply\n"
            "- **原因**：no message within 3s\n"
            "- **时间**：2026-01-01T00:00:05Z"
        },
    }


def test_feishu_body_is_a_text_message():
    body = alerts.webhook_body("feishu", WAIT_TIMEOUT)

    assert body == {
        "msg_type": "text",
        "content": {
            "text": "MCS 告警：等待超时\n"
            "工作流：水泵读数（pump_check）\n"
            "运行：#7（mcs__20260101T000000_ab12cd34）\n"
            "节点：reply\n"
            "原因：no message within 3s\n"
            "时间：2026-01-01T00:00:05Z"
        },
    }


def test_long_reason_is_clipped_to_what_the_robots_accept():
    event = {**RUN_FAILED, "data": {**RUN_FAILED["data"], "reason": "错" * 5000}}

    content = alerts.webhook_body("wecom", event)["markdown"]["content"]

    assert len(content.encode("utf-8")) <= alerts.MAX_TEXT_BYTES
    assert content.endswith("...")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown webhook format 'slack'"):
        alerts.webhook_body("slack", RUN_FAILED)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://oapi.dingtalk.com/robot/send?access_token=abc123", "https://oapi.dingtalk.com/robot/send"),
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx#frag",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
        ),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "https://open.feishu.cn/open-apis/bot/v2/hook/***",
        ),
        ("http://user:pw@127.0.0.1:8099/alerts?x=1", "http://127.0.0.1:8099/alerts"),
    ],
)
def test_redacted_url_hides_query_user_and_path_tokens(url, shown):
    assert alerts.redact_url(url) == shown


def _send(handler, monkeypatch, url="http://127.0.0.1:9/hook?token=s3cret") -> bool:
    monkeypatch.setattr(alerts, "RETRY_PAUSES", (0.0, 0.0))

    async def scenario() -> bool:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await alerts.send_webhook(client, url, "json", RUN_FAILED)

    return asyncio.run(scenario())


def test_webhook_is_retried_twice_on_server_errors_and_the_secret_is_not_logged(monkeypatch, caplog):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        return httpx.Response(503)

    with caplog.at_level(logging.INFO):
        delivered = _send(handler, monkeypatch)

    assert delivered is False
    assert len(calls) == 3
    assert "s3cret" not in caplog.text
    assert (
        "Gave up sending the alert of run 7 to http://127.0.0.1:9/hook after 3 attempts: HTTP 503"
        in caplog.text
    )


def test_webhook_succeeds_after_a_timeout(monkeypatch):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    assert _send(handler, monkeypatch) is True
    assert calls == ["/hook", "/hook"]


def test_robot_error_code_counts_as_failure_without_retry(monkeypatch, caplog):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"errcode": 310000, "errmsg": "keywords not in content"})

    with caplog.at_level(logging.WARNING, logger="mcs.alerts"):
        delivered = _send(handler, monkeypatch)

    assert delivered is False
    assert calls == [1]
    assert "errcode 310000: keywords not in content" in caplog.text


def test_client_error_is_not_retried(monkeypatch):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404)

    assert _send(handler, monkeypatch) is False
    assert calls == [1]
