"""A command's payload is checked field by field; command topics are told apart from device topics."""

from __future__ import annotations

import json

import pytest

from mcs.gateway.commands import CommandRefused, ParsedCommand, parse_command, refusal
from mcs.gateway.topics import ack_topic, command_filter, command_key


def test_full_command_is_parsed():
    payload = {"action": "start", "command_id": "c-1", "conf": {"泵": 2}, "reason": "", "client": "plc-7"}

    assert parse_command(json.dumps(payload).encode()) == ParsedCommand(
        action="start", command_id="c-1", conf={"泵": 2}, reason="", client="plc-7"
    )


def test_minimal_stop_command_is_parsed():
    assert parse_command(b'{"action": "stop", "command_id": "c-2"}') == ParsedCommand(
        action="stop", command_id="c-2", conf={}, reason="", client=""
    )


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (b"{not json", "payload", "the payload is not JSON: "),
        (b"[1, 2]", "payload", "the payload must be a JSON object, found list"),
        (
            b'{"command_id": "c"}',
            "action",
            "`action` must be one of start, stop, enable, disable, found None",
        ),
        (
            b'{"action": "jump", "command_id": "c"}',
            "action",
            "`action` must be one of start, stop, enable, disable, found 'jump'",
        ),
        (b'{"action": "start"}', "command_id", "`command_id` must be a non-empty string, found nothing"),
        (
            b'{"action": "start", "command_id": 7}',
            "command_id",
            "`command_id` must be a non-empty string, found int 7",
        ),
        (
            b'{"action": "start", "command_id": " "}',
            "command_id",
            "`command_id` must be a non-empty string, found str ' '",
        ),
        (
            b'{"action": "start", "command_id": "c", "conf": [1]}',
            "conf",
            "`conf` must be a JSON object, found list",
        ),
        (
            b'{"action": "start", "command_id": "c", "reason": 5}',
            "reason",
            "`reason` must be a string, found int 5",
        ),
        (
            b'{"action": "start", "command_id": "c", "comand": 1}',
            "comand",
            "`comand` is not a known field; known: ",
        ),
    ],
)
def test_bad_command_names_the_field(payload, field, message):
    with pytest.raises(CommandRefused) as refused:
        parse_command(payload)

    assert refused.value.field == field
    assert str(refused.value).startswith(message)


def test_too_long_command_id_is_refused():
    with pytest.raises(CommandRefused, match="`command_id` must be at most 200 characters, found 201"):
        parse_command(json.dumps({"action": "start", "command_id": "x" * 201}).encode())


def test_refusal_keeps_what_could_be_read():
    with pytest.raises(CommandRefused) as refused:
        parse_command(b'{"action": "start", "command_id": "c-9", "conf": 3}')

    assert refusal(refused.value) == {
        "command_id": "c-9",
        "action": "start",
        "ok": False,
        "duplicate": False,
        "code": "invalid",
        "error": "`conf` must be a JSON object, found int",
        "field": "conf",
    }


@pytest.mark.parametrize(
    ("topic", "key"),
    [
        ("mcs/workflows/pump_check/command", "pump_check"),
        ("mcs/workflows/水泵.巡检/command", "水泵.巡检"),
        ("mcs/workflows/pump_check/ack", None),
        ("mcs/workflows//command", None),
        ("mcs/workflows/a/b/command", None),
        ("devices/mcs/workflows/a/command", None),
    ],
)
def test_command_key_is_read_from_the_topic(topic, key):
    assert command_key(topic) == key


def test_topic_prefix_moves_every_control_topic(monkeypatch):
    monkeypatch.setenv("AIRFLOW__MCS__TOPIC_PREFIX", "site-2/mcs")

    assert (command_filter(), ack_topic("k"), command_key("site-2/mcs/workflows/k/command")) == (
        "site-2/mcs/workflows/+/command",
        "site-2/mcs/workflows/k/ack",
        "k",
    )
    assert command_key("mcs/workflows/k/command") is None
