"""The gateway records device messages into the journal, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from mcs import journal
from mcs.db import migrate
from mcs.db.engine import get_engine, session_scope
from mcs.db.models import TaskNode, Workflow, WorkflowVersion
from mcs.gateway.main import Gateway, subscribable_filter, wait_topics
from mcs.hooks.mqtt import MqttHook


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("devices/door1/reply", "devices/door1/reply"),
        ("devices/+/reply", "devices/+/reply"),
        ("devices/{{ params.device }}/reply", "devices/+/reply"),
        ("devices/{{ params.device }}/#", "devices/+/#"),
        ("devices/door-{{ params.n }}/reply", None),
        ("{{ params.topic }}", None),
        ("devices/{{ params.a ~ '/' ~ params.b }}", None),
        ("devices/#/reply", None),
        ("", None),
    ],
)
def test_subscribable_filter(topic: str, expected: str | None) -> None:
    assert subscribable_filter(topic) == expected


def test_gateway_records_a_device_message_in_the_journal(
    mqtt_conn: str, journal_stream: str, topic: str, device, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__MCS__DEVICE_TOPICS", f" other/x , {topic}/{{{{ params.device }}}}/status")
    # The `mcs` database may be absent here; the gateway must keep recording without it.
    monkeypatch.setenv(
        "AIRFLOW__MCS__DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/mcs_absent_db"
    )

    async def scenario() -> list[journal.JournalEntry]:
        kwargs = MqttHook().async_client_kwargs(f"mcs-gateway-test-{uuid.uuid4().hex[:8]}", persistent=True)
        task = asyncio.create_task(Gateway(kwargs, refresh_seconds=0.2, commands=False).serve())
        since_ms = int(time.time() * 1000) - 1000
        entries: list[journal.JournalEntry] = []
        deadline = time.monotonic() + 15
        while not entries and time.monotonic() < deadline:
            await asyncio.to_thread(device, f"{topic}/门1/status", '{"温度": 21}')
            await asyncio.sleep(0.2)
            entries = await journal.read_since(since_ms, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return entries

    entries = asyncio.run(scenario())

    assert entries, "the gateway recorded nothing"
    first = entries[0]
    assert (first.topic, first.payload, first.encoding, first.source) == (
        f"{topic}/门1/status",
        '{"温度": 21}',
        "utf-8",
        "mqtt",
    )


def test_journal_keeps_binary_payload_as_base64(journal_stream: str, topic: str) -> None:
    journal.append(topic, b"\xff\x00\x01", source="mqtt")

    entries = asyncio.run(journal.read_since(0, 10))

    assert [(e.payload, e.encoding, e.payload_bytes()) for e in entries] == [
        ("/wAB", "base64", b"\xff\x00\x01")
    ]


def test_gateway_command_stops_on_sigterm(mqtt_conn: str, journal_stream: str) -> None:
    env = {**os.environ, "AIRFLOW__MCS__GATEWAY_CLIENT_ID": f"mcs-gateway-test-{uuid.uuid4().hex[:8]}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mcs.cli", "gateway"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        # Stopped once it serves (it loads Airflow first, which takes seconds on a busy machine).
        deadline = time.monotonic() + 60
        while (
            not any(b"Connected to the MQTT broker" in line for line in lines) and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        reader.join(5)
        output = b"".join(lines)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 0, output.decode(errors="replace")
    assert b"Gateway stopped" in output


@pytest.fixture
def mcs_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway `mcs` database migrated to head, used through ``[mcs] database_url``."""
    name = f"mcs_test_gateway_{uuid.uuid4().hex[:12]}"
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    migrate.upgrade(url)
    monkeypatch.setenv("AIRFLOW__MCS__DATABASE_URL", url)
    yield url
    get_engine(url).dispose()
    server = create_engine(
        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def test_wait_topics_come_from_the_latest_published_version(mcs_database: str) -> None:
    with session_scope(mcs_database) as session:
        workflow = Workflow(key="door", name="门", draft={}, latest_version=2)
        session.add(workflow)
        session.flush()
        versions = [
            WorkflowVersion(workflow_id=workflow.id, version=n, checksum=str(n), definition={})
            for n in (1, 2)
        ]
        session.add_all(versions)
        session.flush()
        for version, topic in zip(versions, ("old/reply", "devices/{{ params.id }}/reply"), strict=True):
            session.add(
                TaskNode(
                    workflow_id=workflow.id,
                    version_id=version.id,
                    node_key="w",
                    kind="mqtt_wait",
                    config={"topic": topic},
                )
            )
        session.add(
            TaskNode(
                workflow_id=workflow.id,
                version_id=versions[1].id,
                node_key="p",
                kind="mqtt_publish",
                config={"topic": "devices/x/cmd"},
            )
        )
        session.add(
            TaskNode(
                workflow_id=workflow.id,
                version_id=None,
                node_key="w",
                kind="mqtt_wait",
                config={"topic": "draft/reply"},
            )
        )

    assert wait_topics() == {"devices/{{ params.id }}/reply"}
