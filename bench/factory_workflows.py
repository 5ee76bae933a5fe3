"""The workflows of ``dag_factory.py``: twenty nodes each, a mix of every kind a device job uses.

Each workflow asks a device for its status, reports it, branches on its temperature (hot, cold or
normal: each branch its own steps), joins the branches, fans out notices, checks the device
again and branches on that, and ends in one closing step. Its twenty nodes: six ``mqtt_publish``,
four ``mqtt_wait``, six ``http_request``, two ``delay`` and two ``condition``; 25 edges with
three fan-outs and three fan-ins. Every tenth workflow runs on a cron schedule. Keys, topics and
defaults differ per workflow, so no two definitions are alike.
"""

from __future__ import annotations

SINK = "http://127.0.0.1:8099"
NODES_PER_WORKFLOW = 20

EDGES: list[tuple[str, str, str | None]] = [
    ("send_status", "wait_status", None),
    ("wait_status", "report_status", None),
    ("report_status", "route", None),
    ("route", "cool_down", "hot"),
    ("route", "heat_up", "cold"),
    ("route", "pause", "normal"),
    ("cool_down", "wait_cool", None),
    ("cool_down", "alert_hot", None),
    ("heat_up", "wait_warm", None),
    ("wait_cool", "collect", None),
    ("alert_hot", "collect", None),
    ("wait_warm", "collect", None),
    ("pause", "collect", None),
    ("collect", "notify_ops", None),
    ("collect", "notify_owner", None),
    ("collect", "archive", None),
    ("notify_ops", "final_check", None),
    ("notify_owner", "final_check", None),
    ("final_check", "wait_final", None),
    ("wait_final", "check_final", None),
    ("check_final", "done", "ok"),
    ("check_final", "retry_later", "retry"),
    ("done", "close", None),
    ("retry_later", "close", None),
    ("archive", "close", None),
]


def _publish(key: str, name: str, command: str) -> dict:
    return {
        "key": key,
        "kind": "mqtt_publish",
        "name": name,
        "config": {
            "topic": "devices/{{ params.device_id }}/command",
            "payload": {"cmd": command, "run": "{{ run_id }}"},
            "qos": 1,
        },
    }


def _wait(key: str, name: str, topic: str, condition: str, timeout: int) -> dict:
    return {
        "key": key,
        "kind": "mqtt_wait",
        "name": name,
        "config": {
            "topic": f"devices/{{{{ params.device_id }}}}/{topic}",
            "condition": condition,
            "timeout_seconds": timeout,
        },
    }


def _http(key: str, name: str, method: str, path: str, body: dict | None = None) -> dict:
    config: dict = {
        "method": method,
        "url": f"{SINK}/{path}",
        "headers": {"X-Device": "{{ params.device_id }}"},
    }
    if body is not None:
        config["json"] = body
    return {
        "key": key,
        "kind": "http_request",
        "name": name,
        "retries": 2,
        "timeout_seconds": 30,
        "config": config,
    }


def workflow(index: int) -> dict:
    """The ``index``-th bench workflow (keys ``bench_factory_0000`` and on)."""
    nodes = [
        _publish("send_status", "请求状态", "status"),
        _wait("wait_status", "等待状态", "status", "payload.ok and payload.temp is defined", 120),
        _http(
            "report_status",
            "上报状态",
            "POST",
            "status",
            {"device": "{{ params.device_id }}", "temp": "{{ nodes.wait_status.payload.temp }}"},
        ),
        {
            "key": "route",
            "kind": "condition",
            "name": "按温度分支",
            "config": {
                "branches": [
                    {"name": "hot", "when": f"nodes.wait_status.payload.temp > {60 + index % 10}"},
                    {"name": "cold", "when": "nodes.wait_status.payload.temp < params.min_temp"},
                ],
                "default": "normal",
            },
        },
        _publish("cool_down", "打开风扇", "fan_on"),
        _wait("wait_cool", "等待降温", "status", "payload.temp < 50", 600),
        _http(
            "alert_hot",
            "高温告警",
            "POST",
            "alerts",
            {"level": "warning", "device": "{{ params.device_id }}"},
        ),
        _publish("heat_up", "打开加热", "heater_on"),
        _wait("wait_warm", "等待升温", "status", "payload.temp > params.min_temp", 600),
        {"key": "pause", "kind": "delay", "name": "稍候", "config": {"seconds": 30}},
        _http(
            "collect", "汇总", "POST", "summary", {"device": "{{ params.device_id }}", "run": "{{ run_id }}"}
        ),
        _http(
            "notify_ops", "通知运维", "POST", "notify/ops", {"text": "device {{ params.device_id }} checked"}
        ),
        _publish("notify_owner", "通知设备主", "notice"),
        _http(
            "archive", "归档", "PUT", "archive/{{ params.device_id }}", {"nodes": "{{ nodes.collect.body }}"}
        ),
        _publish("final_check", "复查", "status"),
        _wait("wait_final", "等待复查", "status", "payload.ok", 120),
        {
            "key": "check_final",
            "kind": "condition",
            "name": "复查结果",
            "config": {
                "branches": [{"name": "ok", "when": "nodes.wait_final.payload.ok"}],
                "default": "retry",
            },
        },
        _publish("done", "完成", "done"),
        {"key": "retry_later", "kind": "delay", "name": "稍后重试", "config": {"seconds": 60}},
        _http("close", "结束", "GET", "close?device={{ params.device_id }}"),
    ]
    schedule = {"kind": "cron", "cron": f"{index % 60} * * * *"} if index % 10 == 0 else {"kind": "none"}
    return {
        "key": f"bench_factory_{index:04d}",
        "name": f"基准：设备巡检 {index}",
        "description": "Bench workflow of twenty nodes (bench/dag_factory.py).",
        "tags": ["bench", f"site-{index % 7}"],
        "params": {
            "device_id": {"type": "string", "default": f"dev-{index:04d}", "description": "设备编号"},
            "min_temp": {"type": "number", "default": 5},
        },
        "schedule": schedule,
        "nodes": nodes,
        "edges": [
            {"source": source, "target": target, **({"branch": branch} if branch else {})}
            for source, target, branch in EDGES
        ],
    }
