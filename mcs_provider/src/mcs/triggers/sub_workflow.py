"""The sub-workflow trigger: wait in the triggerer until a child workflow's Airflow run has finished.

It asks Airflow for the run's state every ``poll_interval`` seconds (through the triggerer's
supervisor, as Airflow's own ``DagStateTrigger`` does) and fires when the run has succeeded or
failed, or when ``timeout_at`` passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from mcs.triggers.mqtt import _iso

FINISHED_STATES = ("success", "failed")


async def _dag_run_state(dag_id: str, run_id: str) -> str:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    state = await sync_to_async(RuntimeTaskInstance.get_dagrun_state)(dag_id=dag_id, run_id=run_id)
    return str(getattr(state, "value", state))


class SubWorkflowTrigger(BaseTrigger):
    """Fire once the Airflow run ``run_id`` of ``dag_id`` has finished, or when ``timeout_at`` passes.

    Yields one event: ``{"status": "finished", "state": "success" | "failed"}``,
    ``{"status": "timeout", "timeout_at", "state"}`` or ``{"status": "error", "error"}``.

    :param dag_id: the child workflow's dag id.
    :param run_id: the child run's Airflow run id.
    :param poll_interval: seconds between two looks at the run's state.
    :param timeout_at: epoch seconds at which to give up; ``None``: wait forever.
    """

    def __init__(
        self, dag_id: str, run_id: str, poll_interval: float = 2.0, timeout_at: float | None = None
    ) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.run_id = run_id
        self.poll_interval = poll_interval
        self.timeout_at = timeout_at
        self._state = "unknown"

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dag_id": self.dag_id,
                "run_id": self.run_id,
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        remaining = None if self.timeout_at is None else self.timeout_at - time.time()
        try:
            async with asyncio.timeout(remaining) as deadline:
                state = await self._wait()
        except TimeoutError:
            if deadline.expired():
                self.log.info(
                    "Run %s of %s still %s at %s",
                    self.run_id,
                    self.dag_id,
                    self._state,
                    _iso(int(self.timeout_at * 1000)),
                )
                yield TriggerEvent({"status": "timeout", "timeout_at": self.timeout_at, "state": self._state})
                return
            yield TriggerEvent({"status": "error", "error": "waiting for the run timed out internally"})
            return
        except Exception as exc:
            self.log.exception("Waiting for run %s of %s failed", self.run_id, self.dag_id)
            yield TriggerEvent(
                {"status": "error", "error": f"cannot read the state of run `{self.run_id}`: {exc}"}
            )
            return
        yield TriggerEvent({"status": "finished", "state": state})

    async def _wait(self) -> str:
        self.log.info("Waiting for run %s of %s to finish", self.run_id, self.dag_id)
        while True:
            self._state = await _dag_run_state(self.dag_id, self.run_id)
            if self._state in FINISHED_STATES:
                self.log.info("Run %s of %s ended as %s", self.run_id, self.dag_id, self._state)
                return self._state
            await asyncio.sleep(self.poll_interval)
