"""The MCS console in headless Chromium against a whole MCS: draw, publish, run, watch, stop, browse.

The tests run in file order and the later ones use what the designer test made (the workflow
``ui_four_steps``); each screen is saved under ``test-output/screenshots/``.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.designer import choose, click_node, connect, drag_kind, fill_field, node, set_number
from tests.e2e.helpers import HttpSink

pytestmark = pytest.mark.browser

KEY = "ui_four_steps"
LONG_KEY = "ui_long_wait"
STEPS = ["mqtt_publish", "delay", "http_request", "mqtt_publish_2"]


@pytest.fixture(scope="module")
def sink():
    sink = HttpSink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def long_workflow(ui_stack):
    """A workflow that waits ten minutes for a device message nobody sends: a run to stop."""
    definition = {
        "key": LONG_KEY,
        "name": "长时间等待",
        "params": {"device": {"type": "string", "default": "pump-1", "description": "设备"}},
        "nodes": [
            {"key": "ask", "kind": "mqtt_publish", "name": "询问", "config": {"topic": "ui/long/ask"}},
            {"key": "wait", "kind": "mqtt_wait", "name": "等待回复", "config": {"topic": "ui/long/reply"}},
        ],
        "edges": [{"source": "ask", "target": "wait"}],
    }
    with ui_stack.api() as api:
        if api.get(f"/workflows/{LONG_KEY}").status_code == 404:
            assert api.post("/workflows", json=definition).status_code == 201
        assert (
            api.post(f"/workflows/{LONG_KEY}/publish", params={"wait_seconds": 120}).json()["loaded"] is True
        )
    return LONG_KEY


def open_ui(page: Page, ui_stack, path: str) -> None:
    page.goto(f"{ui_stack.ui}{path}")


def test_workflows_screen_shows_after_airflow_login(page, ui_stack):
    open_ui(page, ui_stack, "/workflows")

    expect(page.locator("h1.page-title")).to_have_text("工作流")
    expect(page.locator("[data-test=new-workflow]")).to_be_visible()
    screenshot(page, "01-workflows-empty")


def test_designer_builds_and_publishes_four_node_workflow(page, ui_stack, sink):
    with ui_stack.api() as api:
        api.delete(f"/workflows/{KEY}")  # left by an earlier session on a reused stack
    open_ui(page, ui_stack, "/workflows/new")
    expect(page.locator("[data-test=palette] [data-kind=mqtt_publish]")).to_be_visible()

    for index, kind in enumerate(["mqtt_publish", "delay", "http_request", "mqtt_publish"]):
        drag_kind(page, kind, 260, 60 + index * 110)
        expect(node(page, STEPS[index])).to_be_visible()
    for source, target in zip(STEPS, STEPS[1:], strict=False):
        connect(page, source, target)
    expect(page.locator("[data-test=canvas] .x6-edge")).to_have_count(3)

    click_node(page, "mqtt_publish")
    fill_field(page, ".node-panel", "name", "发送命令")
    fill_field(page, ".node-panel", "config.topic", "ui/four/command")
    click_node(page, "delay")
    set_number(page, ".node-panel", "config.seconds", 1)
    click_node(page, "http_request")
    choose(page, ".node-panel", "config.method", "POST")
    fill_field(page, ".node-panel", "config.url", f"{sink.url}/readings")
    click_node(page, "mqtt_publish_2")
    fill_field(page, ".node-panel", "config.topic", "ui/four/done")
    page.wait_for_timeout(400)
    page.mouse.click(canvas_blank_x(page), canvas_blank_y(page))
    fill_field(page, ".workflow-panel", "key", KEY)
    fill_field(page, ".workflow-panel", "name", "界面测试：四个步骤")
    screenshot(page, "02-designer")

    page.click("[data-test=publish]")
    expect(page.locator(".el-message--success")).to_contain_text("已发布为版本 1", timeout=120_000)
    page.wait_for_url(f"**/workflows/{KEY}/design")
    with ui_stack.api() as api:
        stored = api.get(f"/workflows/{KEY}").json()
    assert stored["latest_version"] == 1
    assert [n["key"] for n in stored["draft"]["nodes"]] == STEPS
    assert [(e["source"], e["target"]) for e in stored["draft"]["edges"]] == list(
        zip(STEPS, STEPS[1:], strict=False)
    )
    assert stored["draft"]["nodes"][0]["config"]["topic"] == "ui/four/command"
    expect(page.locator("[data-test=dirty]")).to_have_count(0)
    screenshot(page, "03-designer-published")


def canvas_blank_x(page: Page) -> float:
    box = page.locator("[data-test=canvas]").bounding_box()
    return box["x"] + box["width"] - 40


def canvas_blank_y(page: Page) -> float:
    box = page.locator("[data-test=canvas]").bounding_box()
    return box["y"] + box["height"] - 40


def test_designer_marks_invalid_node_and_lists_problem(page, ui_stack):
    open_ui(page, ui_stack, f"/workflows/{KEY}/design")
    click_node(page, "http_request")
    fill_field(page, ".node-panel", "config.url", "not a url")
    page.wait_for_timeout(400)
    page.click("[data-test=save]")

    expect(page.locator("[data-test=problems]")).to_contain_text("http_request")
    expect(node(page, "http_request")).to_have_attribute("stroke", "#d64545")
    screenshot(page, "04-designer-problem")
    page.keyboard.press("Control+z")


def test_run_view_shows_nodes_turning_success(page, ui_stack, sink):
    open_ui(page, ui_stack, "/workflows")
    page.click(f"[data-test=start-{KEY}]")
    page.click("[data-test=start-confirm]")
    page.wait_for_url(re.compile(r".*/mcs/ui/runs/\d+$"))
    screenshot(page, "05-run-in-progress")

    expect(page.locator("[data-test=run-state]")).to_have_attribute("data-state", "success", timeout=180_000)
    for key in STEPS:
        expect(node(page, key)).to_have_attribute("data-state", "success", timeout=10_000)
    expect(page.locator("[data-test=run-progress]")).to_contain_text("4/4")
    assert [path for path, _ in sink.requests] == ["/readings"]

    node(page, "http_request").click()
    expect(page.locator("[data-test=node-log]")).not_to_have_text("暂无日志", timeout=15_000)
    screenshot(page, "06-run-success")


def test_history_lists_the_run_and_opens_it(page, ui_stack):
    open_ui(page, ui_stack, "/history")
    row = page.locator("[data-test=history-table] tr", has_text=KEY).first
    expect(row).to_contain_text("成功")
    expect(page.locator("[data-test=history-charts] canvas").first).to_be_visible()
    screenshot(page, "07-history")

    row.click()
    page.wait_for_url(re.compile(r".*/mcs/ui/runs/\d+$"))
    expect(page.locator("[data-test=run-state]")).to_have_attribute("data-state", "success")


def test_second_run_is_stopped_from_run_view(page, ui_stack, long_workflow):
    open_ui(page, ui_stack, "/workflows")
    page.click(f"[data-test=start-{long_workflow}]")
    expect(page.locator("[data-test=start-form] input").first).to_have_value("pump-1")
    page.click("[data-test=start-confirm]")
    page.wait_for_url(re.compile(r".*/mcs/ui/runs/\d+$"))
    expect(node(page, "wait")).to_have_attribute("data-current", "true", timeout=120_000)
    screenshot(page, "08-run-waiting")

    page.click("[data-test=stop-run]")
    page.locator(".el-message-box input").fill("界面测试停止")
    page.locator(".el-message-box .el-button--danger").click()

    expect(page.locator("[data-test=run-state]")).to_have_attribute("data-state", "stopped", timeout=30_000)
    expect(page.locator("[data-test=stop-run]")).to_have_count(0)
    run_id = int(page.url.rsplit("/", 1)[1])
    with ui_stack.api() as api:
        run = api.get(f"/runs/{run_id}").json()
    assert (run["state"], run["stopped_by"], run["stop_reason"]) == ("stopped", "admin", "界面测试停止")
    screenshot(page, "09-run-stopped")


def test_triggers_screen_shows_a_new_token_once(page, ui_stack):
    open_ui(page, ui_stack, f"/workflows/{KEY}/triggers")
    expect(page.locator("[data-test=mqtt-topics]")).to_contain_text(f"mcs/workflows/{KEY}/command")

    with ui_stack.api() as api:
        hooks_before = api.get(f"/workflows/{KEY}/hooks").json()["hooks"]
    page.click("[data-test=create-hook]")
    token = page.locator("[data-test=hook-token] input")
    expect(token).to_have_value(re.compile(r".{20,}"))
    screenshot(page, "10-triggers-token")
    page.keyboard.press("Escape")
    expect(page.locator("[data-test=hooks] tbody tr")).to_have_count(len(hooks_before) + 1)
    assert token.count() == 0 or not token.is_visible()


def test_workflows_list_shows_last_run_and_english(page, ui_stack):
    open_ui(page, ui_stack, "/workflows")
    row = page.locator("[data-test=workflow-table] tr", has_text=KEY).first
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("成功")

    page.locator("header .el-select").click()
    page.locator(".el-select-dropdown__item", has_text="English").click()
    expect(page.locator("h1.page-title")).to_have_text("Workflows")
    screenshot(page, "11-workflows-english")
    page.locator("header .el-select").click()
    page.locator(".el-select-dropdown__item", has_text="简体中文").click()
    time.sleep(0.2)


def flow_with_group_and_approval(key: str) -> dict:
    """A condition choosing a group of two steps, then a person's approval."""
    return {
        "key": key,
        "name": "条件、分组与审批",
        "params": {"level": {"type": "integer", "default": 3}},
        "nodes": [
            {
                "key": "check",
                "kind": "condition",
                "name": "水位判断",
                "config": {
                    "branches": [
                        {"name": "high", "when": "params.level > 2"},
                        {"name": "low", "when": "params.level <= 2"},
                    ]
                },
            },
            {"key": "drain", "kind": "group", "name": "排水"},
            {"key": "open", "kind": "mqtt_publish", "parent": "drain", "config": {"topic": "ui/valve/open"}},
            {"key": "pause", "kind": "delay", "parent": "drain", "config": {"seconds": 1}},
            {"key": "idle", "kind": "end", "name": "无需处理", "config": {"result": "success"}},
            {"key": "confirm", "kind": "approval", "name": "值班确认", "config": {"subject": "确认排水完成"}},
        ],
        "edges": [
            {"source": "check", "target": "drain", "branch": "high"},
            {"source": "check", "target": "idle", "branch": "low"},
            {"source": "open", "target": "pause"},
            {"source": "drain", "target": "confirm"},
        ],
    }


def test_approval_is_answered_from_run_view(page, ui_stack):
    with ui_stack.api() as api:
        api.delete("/workflows/ui_approval")
        assert api.post("/workflows", json=flow_with_group_and_approval("ui_approval")).status_code == 201
        assert (
            api.post("/workflows/ui_approval/publish", params={"wait_seconds": 120}).json()["loaded"] is True
        )
        run_id = api.post("/workflows/ui_approval/runs", json={"params": {"level": 5}}).json()["id"]

    open_ui(page, ui_stack, f"/runs/{run_id}")
    approve = page.locator("[data-test=approvals] button", has_text="批准")
    expect(approve).to_be_visible(timeout=180_000)
    expect(node(page, "idle")).to_have_attribute("data-state", "skipped")
    expect(node(page, "drain")).to_have_attribute("data-state", "success")
    screenshot(page, "12-run-approval")

    approve.click()

    expect(page.locator("[data-test=run-state]")).to_have_attribute("data-state", "success", timeout=120_000)
    expect(node(page, "confirm")).to_have_attribute("data-state", "success")
    screenshot(page, "13-run-approved")


def test_airflow_nav_opens_the_console(logged_in, ui_stack):
    # Airflow's own page: its console is Airflow's business, so no console check here.
    page = logged_in.new_page()
    page.goto(f"{ui_stack.base_url}/")
    item = page.get_by_role("link", name="MCS")
    expect(item).to_have_attribute("href", "/plugin/mcs", timeout=30_000)

    item.click()

    console = page.frame_locator("iframe").first
    expect(console.locator("h1.page-title")).to_have_text("工作流", timeout=30_000)
    screenshot(page, "00-airflow-nav")
    page.close()
