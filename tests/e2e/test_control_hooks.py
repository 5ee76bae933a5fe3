"""HTTP hooks: devices and services start, stop and message a workflow with a hook's token, no login."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.e2e.control_helpers import SlowService, create_and_publish, mcs_engine, node_states, query
from tests.e2e.helpers import api_client, wait_for, wait_for_run
from tests.e2e.test_control_mqtt import http_and_wait_workflow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        yield client


@pytest.fixture(scope="module")
def public():
    """A client with no login at all, as a device has."""
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def mcs_db(stack):
    yield from mcs_engine(stack.env)


@pytest.fixture(scope="module")
def quiet_workflow(client):
    """A published workflow whose hooks the management tests play with; its runs wait an hour."""
    key, prefix = "e2e_hooks", f"e2e/{uuid.uuid4().hex[:8]}"
    create_and_publish(client, http_and_wait_workflow(key, "http://127.0.0.1:9", prefix))
    return key, prefix


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def runs_of(client, key: str) -> int:
    return client.get(f"/workflows/{key}/runs").json()["total_entries"]


class TestManageHooks:
    def test_token_is_shown_once_and_never_listed(self, client, quiet_workflow):
        key, _ = quiet_workflow

        created = client.post(f"/workflows/{key}/hooks", json={"action": "stop"})
        listed = client.get(f"/workflows/{key}/hooks").json()

        assert created.status_code == 201
        hook = created.json()
        assert len(hook["token"]) == 43 and hook["url"].endswith(f"/mcs/hooks/{hook['id']}")
        mine = [item for item in listed["hooks"] if item["id"] == hook["id"]]
        assert mine == [{k: v for k, v in hook.items() if k != "token"}]
        assert "token" not in str(listed)

    def test_rotated_token_replaces_the_old_one(self, client, public, quiet_workflow):
        key, _ = quiet_workflow
        hook = client.post(f"/workflows/{key}/hooks", json={"action": "stop"}).json()

        rotated = client.post(f"/workflows/{key}/hooks/{hook['id']}/rotate").json()

        assert rotated["token"] != hook["token"] and rotated["rotated_at"] is not None
        assert public.post(hook["url"], json={}, headers=bearer(hook["token"])).status_code == 401
        answer = public.post(hook["url"], json={"reason": "rotated"}, headers=bearer(rotated["token"]))
        assert (answer.status_code, answer.json()["ok"], answer.json()["stopped_runs"]) == (200, True, [])

    def test_revoked_hook_answers_401(self, client, public, quiet_workflow):
        key, _ = quiet_workflow
        hook = client.post(f"/workflows/{key}/hooks", json={"action": "stop"}).json()

        revoked = client.delete(f"/workflows/{key}/hooks/{hook['id']}")

        assert revoked.status_code == 204
        assert public.post(hook["url"], json={}, headers=bearer(hook["token"])).status_code == 401
        assert client.delete(f"/workflows/{key}/hooks/{hook['id']}").status_code == 404

    def test_unknown_action_is_answered_422(self, client, quiet_workflow):
        answer = client.post(f"/workflows/{quiet_workflow[0]}/hooks", json={"action": "explode"})

        assert answer.status_code == 422
        assert answer.json()["detail"]["problems"][0]["path"] == "action"

    def test_managing_hooks_needs_a_login(self, stack, public, quiet_workflow):
        answer = public.get(f"{stack.base_url}/mcs/api/v1/workflows/{quiet_workflow[0]}/hooks")

        assert answer.status_code == 401


class TestCallHook:
    def test_wrong_token_gets_401_and_starts_nothing(self, client, public, quiet_workflow):
        key, _ = quiet_workflow
        hook = client.post(f"/workflows/{key}/hooks", json={"action": "start"}).json()
        before = runs_of(client, key)
        unknown = hook["url"].rsplit("/", 1)[0] + "/987654321"

        answers = [
            public.post(hook["url"], json={}, headers=bearer("not-the-token")),
            public.post(hook["url"], json={}, headers={"X-MCS-Token": hook["token"][:-1] + "x"}),
            public.post(hook["url"], json={}),
            public.post(unknown, json={}, headers=bearer(hook["token"])),
        ]

        assert [(a.status_code, a.json()) for a in answers] == [
            (401, {"detail": "missing or wrong hook token"})
        ] * 4
        assert runs_of(client, key) == before

    def test_start_with_one_command_id_three_times_starts_one_run(self, client, public, quiet_workflow):
        key, _ = quiet_workflow
        hook = client.post(f"/workflows/{key}/hooks", json={"action": "start"}).json()
        before = runs_of(client, key)

        answers = [
            public.post(
                hook["url"],
                json={"device": "x"},
                headers={**bearer(hook["token"]), "X-MCS-Command-Id": "h-1"},
            )
            for _ in range(3)
        ]

        assert [a.status_code for a in answers] == [201, 200, 200]
        assert len({a.json()["run_id"] for a in answers}) == 1
        assert runs_of(client, key) == before + 1
        client.post(f"/workflows/{key}/stop", json={"reason": "clean up"})

    def test_flood_gets_429_with_retry_after(self, client, public, quiet_workflow):
        hook = client.post(f"/workflows/{quiet_workflow[0]}/hooks", json={"action": "stop"}).json()

        codes = [public.post(hook["url"], json={}, headers=bearer("wrong")).status_code for _ in range(61)]
        limited = public.post(hook["url"], json={}, headers=bearer(hook["token"]))

        assert codes == [401] * 60 + [429]
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60

    def test_stop_hook_kills_running_http_step_and_cancels_wait(self, client, public):
        slow = SlowService()
        key, prefix = "e2e_hook_stop", f"e2e/{uuid.uuid4().hex[:8]}"
        try:
            create_and_publish(client, http_and_wait_workflow(key, slow.url, prefix))
            start = client.post(f"/workflows/{key}/hooks", json={"action": "start"}).json()
            stop = client.post(f"/workflows/{key}/hooks", json={"action": "stop"}).json()
            started = public.post(start["url"], json={}, headers=bearer(start["token"]))
            assert started.status_code == 201, started.text
            run_id = started.json()["run_id"]
            wait_for(
                lambda: slow.requests and node_states(client, run_id)["reply"] == "deferred",
                60,
                "call and wait",
            )

            asked = time.monotonic()
            stopped = public.post(stop["url"], json={"reason": "设备要求停止"}, headers=bearer(stop["token"]))
            wait_for(lambda: slow.aborted, 20, "the HTTP request to be aborted", interval=0.05)

            assert (stopped.status_code, stopped.json()["stopped_runs"]) == (200, [run_id])
            assert slow.aborted == ["/slow"] and time.monotonic() - asked < 15
            run = wait_for_run(client, run_id, {"stopped"}, timeout=10)
            assert (run["stopped_by"], run["stop_reason"]) == (f"http_hook:{stop['id']}", "设备要求停止")
            wait_for(
                lambda: (
                    node_states(client, run_id) == {"call": "failed", "command": "success", "reply": "failed"}
                ),
                20,
                "the step and the wait to end failed",
            )
        finally:
            slow.close()

    def test_message_posted_to_hook_satisfies_mqtt_wait(self, client, public, mcs_db):
        key, prefix = "e2e_hook_message", f"e2e/{uuid.uuid4().hex[:8]}"
        create_and_publish(
            client,
            {
                "key": key,
                "name": "消息钩子",
                "nodes": [
                    {
                        "key": "command",
                        "kind": "mqtt_publish",
                        "config": {"topic": prefix + "/command", "payload": 1},
                    },
                    {
                        "key": "reply",
                        "kind": "mqtt_wait",
                        "config": {
                            "topic": prefix + "/+/reply",
                            "condition": "payload.ok",
                            "timeout_seconds": 120,
                        },
                    },
                ],
                "edges": [{"source": "command", "target": "reply"}],
            },
        )
        hook = client.post(f"/workflows/{key}/hooks", json={"action": "message"}).json()
        run_id = client.post(f"/workflows/{key}/runs", json={"params": {}}).json()["id"]
        wait_for(lambda: node_states(client, run_id)["reply"] == "deferred", 60, "the wait to be deferred")

        posted = public.post(
            hook["url"],
            json={"topic": f"{prefix}/阀门1/reply", "payload": {"ok": True}},
            headers=bearer(hook["token"]),
        )
        run = wait_for_run(client, run_id, {"success", "failed"}, timeout=30)

        assert (posted.status_code, posted.json()["published"]) == (202, True)
        assert run["state"] == "success"
        assert query(
            mcs_db, "SELECT source, client_id FROM device_message WHERE topic = :t", t=f"{prefix}/阀门1/reply"
        ) == [("http", f"http_hook:{hook['id']}")]

    def test_message_to_a_topic_the_workflow_does_not_wait_on_is_refused(
        self, client, public, quiet_workflow
    ):
        hook = client.post(f"/workflows/{quiet_workflow[0]}/hooks", json={"action": "message"}).json()

        answer = public.post(
            hook["url"], json={"topic": "elsewhere/x", "payload": 1}, headers=bearer(hook["token"])
        )

        assert answer.status_code == 422
        assert answer.json()["detail"]["problems"][0]["path"] == "topic"
