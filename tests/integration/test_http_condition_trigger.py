"""The HTTP condition trigger, driven directly in asyncio against a local aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from mcs.triggers.http import HttpConditionTrigger

HOST = "127.0.0.1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


async def _serve(handler: Handler, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/job", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    return runner


async def _first_event(trigger: HttpConditionTrigger, timeout: float = 15.0) -> dict:
    events = trigger.run()
    try:
        return (await asyncio.wait_for(anext(events), timeout)).payload
    finally:
        await events.aclose()


def _job_after(done_on: int, seen: list[web.Request]) -> Handler:
    """A job that reports ``running`` until its ``done_on``-th poll, then ``done``."""

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        body = await request.json() if request.can_read_body else None
        state = "done" if len(seen) >= done_on else "running"
        return web.json_response({"state": state, "poll": len(seen), "echo": body}, headers={"X-Job": "7"})

    return handler


def test_condition_met_on_the_third_poll() -> None:
    seen: list[web.Request] = []

    async def scenario() -> dict:
        port = _free_port()
        runner = await _serve(_job_after(3, seen), port)
        try:
            trigger = HttpConditionTrigger(
                url=f"http://{HOST}:{port}/job",
                condition="status == 200 and body.state == 'done' and headers['x-job'] == params.job",
                params={"job": "7"},
                interval_seconds=0.1,
                timeout_at=time.time() + 10,
            )
            return await _first_event(trigger)
        finally:
            await runner.cleanup()

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert event["polls"] == 3
    assert event["response"]["status"] == 200
    assert event["response"]["body"] == {"state": "done", "poll": 3, "echo": None}
    assert event["response"]["headers"]["x-job"] == "7"


def test_each_poll_sends_method_headers_and_json_body() -> None:
    seen: list[web.Request] = []

    async def scenario() -> dict:
        port = _free_port()
        runner = await _serve(_job_after(1, seen), port)
        try:
            trigger = HttpConditionTrigger(
                url=f"http://{HOST}:{port}/job",
                condition="body.echo.id == 7",
                method="POST",
                headers={"Authorization": "Basic Ym9iOnB3"},
                json_body={"id": 7},
                interval_seconds=0.1,
                timeout_at=time.time() + 10,
            )
            return await _first_event(trigger)
        finally:
            await runner.cleanup()

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert (seen[0].method, seen[0].headers["Authorization"]) == ("POST", "Basic Ym9iOnB3")


def test_refused_connection_is_retried_until_the_server_is_up() -> None:
    seen: list[web.Request] = []

    async def scenario() -> dict:
        port = _free_port()
        trigger = HttpConditionTrigger(
            url=f"http://{HOST}:{port}/job",
            condition="body.state == 'done'",
            interval_seconds=0.1,
            timeout_at=time.time() + 15,
        )
        task = asyncio.create_task(_first_event(trigger))
        await asyncio.sleep(0.6)
        assert not task.done()
        runner = await _serve(_job_after(1, seen), port)
        try:
            return await task
        finally:
            await runner.cleanup()

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert event["polls"] > 2
    assert len(seen) == 1


def test_condition_never_met_times_out_with_the_last_answer() -> None:
    async def scenario() -> tuple[dict, float]:
        port = _free_port()
        runner = await _serve(_job_after(10_000, []), port)
        timeout_at = time.time() + 1.0
        try:
            trigger = HttpConditionTrigger(
                url=f"http://{HOST}:{port}/job",
                condition="body.state == 'done'",
                interval_seconds=0.2,
                timeout_at=timeout_at,
            )
            return await _first_event(trigger), timeout_at
        finally:
            await runner.cleanup()

    event, timeout_at = asyncio.run(scenario())

    assert (event["status"], event["timeout_at"], event["last"]) == ("timeout", timeout_at, "status 200")
    assert event["polls"] >= 2


def test_server_never_up_times_out_with_the_connection_error() -> None:
    timeout_at = time.time() + 0.8
    trigger = HttpConditionTrigger(
        url=f"http://{HOST}:{_free_port()}/job", condition="true", interval_seconds=0.2, timeout_at=timeout_at
    )

    event = asyncio.run(_first_event(trigger))

    assert (event["status"], event["timeout_at"]) == ("timeout", timeout_at)
    assert event["last"].startswith("ConnectError")
