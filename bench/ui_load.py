"""How fast the MCS console opens: a 300-node workflow in the designer, and the JavaScript it loads.

Runs headless Chromium (Debian's, ``/usr/bin/chromium``) with Playwright against the browser-test
stack (``tests/browser/stack_profile.py``: port 8380, its own databases), which it starts and
stops unless ``--reuse-stack`` is given. Build the app first (``make frontend``).

    .venv/bin/python bench/ui_load.py --runs 5 --write

Measured, the median over ``--runs`` fresh pages (same browser, warm HTTP cache after the first):

- workflows screen: navigation start to the table's rows drawn;
- designer, 300 nodes without positions (laid out by dagre in the browser) and with positions:
  navigation start to all 300 nodes drawn on the canvas, then a click on a node to its form shown
  in the side panel (the first interaction);
- JavaScript and CSS sent for each screen, as the server sends it (gzip, from the browser's
  resource timing), and the same files gzipped from ``frontend/dist``.

``--write`` replaces the ``ui_load`` section of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import stack_profile  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402
from tests.browser.stack_profile import stack_script  # noqa: E402

DOC = REPO / "docs" / "performance.md"
BEGIN = "<!-- ui_load:figures begin: written by bench/ui_load.py -->"
END = "<!-- ui_load:figures end -->"
SCREENSHOT = REPO / "test-output" / "screenshots" / "bench.png"
KINDS = ["mqtt_publish", "delay", "http_request", "mqtt_wait"]


def big_workflow(key: str, stages: int = 60, width: int = 4, positions: bool = False) -> dict:
    """``stages`` times: ``width`` parallel steps, then one step joining them; 300 nodes by default."""
    nodes, edges, previous = [], [], None
    for stage in range(stages):
        join = f"s{stage}_join"
        for lane in range(width):
            kind = KINDS[(stage + lane) % len(KINDS)]
            config = {
                "mqtt_publish": {"topic": f"bench/{stage}/{lane}"},
                "delay": {"seconds": 1},
                "http_request": {"url": "http://127.0.0.1:9/bench"},
                "mqtt_wait": {"topic": f"bench/{stage}/{lane}/reply"},
            }[kind]
            step = {"key": f"s{stage}_{lane}", "kind": kind, "name": f"步骤 {stage}.{lane}", "config": config}
            if positions:
                step["position"] = {"x": lane * 230, "y": stage * 200}
            nodes.append(step)
            if previous:
                edges.append({"source": previous, "target": step["key"]})
            edges.append({"source": step["key"], "target": join})
        joined = {"key": join, "kind": "delay", "name": f"汇合 {stage}", "config": {"seconds": 1}}
        if positions:
            joined["position"] = {"x": (width - 1) * 115, "y": stage * 200 + 100}
        nodes.append(joined)
        previous = join
    return {"key": key, "name": f"基准 {len(nodes)} 个节点", "nodes": nodes, "edges": edges}


def login(browser, base_url: str, password: str):
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/mcs/ui/")
    page.wait_for_url("**/auth/login?next=**")
    page.fill("input[name=username]", stack_script.ADMIN_USER)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/mcs/ui/workflows")
    page.close()
    return context


def sent_bytes(page) -> dict[str, int]:
    """Bytes on the wire (after the server's gzip) of the scripts and styles the page loaded."""
    entries = page.evaluate(
        "performance.getEntriesByType('resource').map(e => [e.name, e.encodedBodySize, e.transferSize])"
    )
    totals = {"js": 0, "css": 0}
    for name, encoded, _ in entries:
        kind = "js" if name.endswith(".js") else "css" if name.endswith(".css") else None
        if kind:
            totals[kind] += encoded
    return totals


def open_workflows(context, base_url: str) -> tuple[float, dict[str, int]]:
    page = context.new_page()
    page.goto(f"{base_url}/mcs/ui/workflows")
    drawn = page.wait_for_function(
        "() => document.querySelectorAll('[data-test=workflow-table] tbody tr').length > 0 && performance.now()"
    ).json_value()
    sizes = sent_bytes(page)
    page.close()
    return drawn, sizes


def open_designer(context, base_url: str, key: str, count: int) -> tuple[float, float, dict[str, int]]:
    page = context.new_page()
    page.goto(f"{base_url}/mcs/ui/workflows/{key}/design")
    drawn = page.wait_for_function(
        f"() => document.querySelectorAll('[data-test=canvas] [data-key]').length >= {count} && performance.now()",
        polling="raf",
        timeout=120_000,
    ).json_value()
    target = page.locator("[data-test=canvas] [data-key='s0_0']")
    box = target.bounding_box()
    clicked = page.evaluate("performance.now()")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    answered = page.wait_for_function(
        "() => document.querySelector(\".node-panel[data-node='s0_0']\") && performance.now()", polling="raf"
    ).json_value()
    sizes = sent_bytes(page)
    page.screenshot(path=str(SCREENSHOT.with_name(f"bench-{key}.png")))
    page.close()
    return drawn, answered - clicked, sizes


def history_bytes(context, base_url: str) -> dict[str, int]:
    page = context.new_page()
    page.goto(f"{base_url}/mcs/ui/history")
    page.locator("[data-test=history-charts] canvas").first.wait_for()
    sizes = sent_bytes(page)
    page.close()
    return sizes


def dist_gzip() -> dict[str, int]:
    """The initial scripts and styles of frontend/dist (those index.html names), gzipped at level 5."""
    index = (stack_profile.DIST / "index.html").read_text()
    names = re.findall(r'(?:src|href)="/mcs/ui/(assets/[^"]+\.(?:js|css))"', index)
    totals = {"js": 0, "css": 0, "all_js": 0}
    for name in names:
        totals[name.rsplit(".", 1)[1]] += len(gzip.compress((stack_profile.DIST / name).read_bytes(), 5))
    for path in (stack_profile.DIST / "assets").glob("*.js"):
        totals["all_js"] += len(gzip.compress(path.read_bytes(), 5))
    return totals


def measure(base_url: str, password: str, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    with stack_profile_api(base_url, password) as api:
        for key, positions in (("bench_ui_300", False), ("bench_ui_300_placed", True)):
            api.delete(f"/workflows/{key}")
            answer = api.post("/workflows", json=big_workflow(key, positions=positions))
            assert answer.status_code == 201, answer.text
        count = len(big_workflow("x")["nodes"])

    results: dict = {"runs": runs, "nodes": count}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = login(browser, base_url, password)
        workflows = [open_workflows(context, base_url) for _ in range(runs)]
        results["workflows_ms"] = statistics.median(run[0] for run in workflows)
        results["workflows_bytes"] = workflows[0][1]
        for key, label in (("bench_ui_300", "unplaced"), ("bench_ui_300_placed", "placed")):
            designer = [open_designer(context, base_url, key, count) for _ in range(runs)]
            results[f"{label}_open_ms"] = statistics.median(run[0] for run in designer)
            results[f"{label}_click_ms"] = statistics.median(run[1] for run in designer)
            results["designer_bytes"] = designer[0][2]
        results["history_bytes"] = history_bytes(context, base_url)
        browser.close()
    results["dist"] = dist_gzip()
    results["load_average"] = os.getloadavg()[0]
    return results


def stack_profile_api(base_url: str, password: str):
    import httpx

    token = httpx.post(
        f"{base_url}/auth/token", json={"username": stack_script.ADMIN_USER, "password": password}, timeout=30
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{base_url}/mcs/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def kib(value: int) -> str:
    return f"{value / 1024:.0f} KiB"


def report(r: dict) -> str:
    d = r["dist"]
    return f"""{BEGIN}
Median of {r["runs"]} page loads in headless Chromium on this machine (2 cores); the machine's load
average was {r["load_average"]:.1f} when they were taken (wall-clock figures grow with it). The first
load of each screen fills the HTTP cache, later ones reuse it. Sizes are what the api-server sends
(gzip).

| screen | ready | JavaScript sent | CSS sent |
|---|---|---|---|
| workflows (first screen) | {r["workflows_ms"]:.0f} ms to the table drawn | {kib(r["workflows_bytes"]["js"])} | {kib(r["workflows_bytes"]["css"])} |
| designer, {r["nodes"]} nodes, laid out in the browser | {r["unplaced_open_ms"]:.0f} ms to all nodes drawn; first click answered in {r["unplaced_click_ms"]:.0f} ms | {kib(r["designer_bytes"]["js"])} | {kib(r["designer_bytes"]["css"])} |
| designer, {r["nodes"]} nodes with saved positions | {r["placed_open_ms"]:.0f} ms to all nodes drawn; first click answered in {r["placed_click_ms"]:.0f} ms | (same) | (same) |
| history with its charts | - | {kib(r["history_bytes"]["js"])} | {kib(r["history_bytes"]["css"])} |

The first screen's JavaScript from `frontend/dist`, gzipped at level 5: {kib(d["js"])} (CSS
{kib(d["css"])}); every chunk of the app together: {kib(d["all_js"])}. The designer and run view (X6,
dagre) and the history charts (ECharts) are separate chunks, loaded when their screen is opened.
{END}"""


def write(section: str) -> None:
    text = DOC.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## The browser app\n\n" + section + "\n"
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse-stack", action="store_true", help="use a browser-test stack already up")
    parser.add_argument("--write", action="store_true", help="replace the section in docs/performance.md")
    args = parser.parse_args()
    if not (stack_profile.DIST / "index.html").is_file():
        print("frontend/dist is missing: run `make frontend` first", file=sys.stderr)
        return 1

    profile = stack_profile.browser_profile()
    if not args.reuse_stack:
        stack_profile.start(log=lambda text: print(f"[stack] {text}", flush=True))
    try:
        results = measure(profile.base_url, stack_script.admin_password(profile), args.runs)
    finally:
        if not args.reuse_stack:
            stack_script.stop(profile)
    section = report(results)
    print(json.dumps(results, indent=2))
    print(section)
    if args.write:
        write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
