"""What a person does in the designer, as mouse and keyboard steps on a Playwright page."""

from __future__ import annotations

from playwright.sync_api import Page


def canvas_box(page: Page) -> dict:
    return page.locator("[data-test=canvas]").bounding_box()


def drag_kind(page: Page, kind: str, x: float, y: float) -> None:
    """Drag a node kind from the palette and drop it at (x, y) of the canvas (its top-left corner)."""
    item = page.locator(f"[data-test=palette] [data-kind={kind}]").bounding_box()
    canvas = canvas_box(page)
    page.mouse.move(item["x"] + item["width"] / 2, item["y"] + item["height"] / 2)
    page.mouse.down()
    page.mouse.move(canvas["x"] + x / 2, canvas["y"] + y / 2, steps=5)
    page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=10)
    page.mouse.up()


def node(page: Page, key: str):
    return page.locator(f"[data-test$=canvas] [data-key='{key}']")


def click_node(page: Page, key: str) -> None:
    box = node(page, key).bounding_box()
    page.mouse.click(box["x"] + 30, box["y"] + box["height"] / 2)
    page.locator(f".node-panel[data-node='{key}']").wait_for()


def port(page: Page, key: str, group: str):
    """The centre of a node's port, ``in`` (top) or ``out`` (bottom)."""
    cell = node(page, key).locator("xpath=..")
    box = cell.locator(f"[port-group={group}]").first.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Page, source: str, target: str) -> None:
    """Draw an edge from the bottom port of ``source`` to the top port of ``target``."""
    node(page, source).hover()
    start = port(page, source, "out")
    end = port(page, target, "in")
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=10)
    page.mouse.up()


def fill_field(page: Page, scope: str, path: str, value: str) -> None:
    """Type into the text field at ``path`` (e.g. ``config.topic``) of a side panel form."""
    field = page.locator(f"{scope} [data-field='{path}']").first
    box = field.locator("input, textarea").first
    box.fill(value)


def set_number(page: Page, scope: str, path: str, value: float) -> None:
    box = page.locator(f"{scope} [data-field='{path}'] input").first
    box.fill(str(value))
    box.press("Tab")


def choose(page: Page, scope: str, path: str, option: str) -> None:
    """Pick ``option`` (its shown text) in the select at ``path`` of a side panel form."""
    page.locator(f"{scope} [data-field='{path}'] .el-select").first.click()
    page.locator(".el-select-dropdown:visible .el-select-dropdown__item", has_text=option).first.click()
