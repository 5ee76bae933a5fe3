"""Run result step: the last task of a workflow that can end as failure.

Airflow decides a run's state from its last tasks. When a rule or an end node ends the run as
failure, the steps after it are skipped, so those last tasks are skipped too and Airflow would
call the run a success. This step waits for every last task, whatever its state, and fails when
any step of the run failed, so the run is failed while the skipped steps still show skipped.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

RESULT_TASK_ID = "mcs_result"
FAILED_STATES = ("failed", "upstream_failed")


class RunResultOperator(BaseOperator):
    """
    Fail when any other step of this run failed.

    :param step_ids: the run's other steps
    """

    def __init__(self, *, step_ids: list[str], **kwargs: Any) -> None:
        super().__init__(trigger_rule="all_done", **kwargs)
        self.step_ids = step_ids

    def execute(self, context: Any) -> dict[str, Any]:
        dag_run = context["dag_run"]
        states = (
            context["ti"]
            .get_task_states(dag_id=dag_run.dag_id, task_ids=self.step_ids, run_ids=[dag_run.run_id])
            .get(dag_run.run_id, {})
        )
        failed = sorted(task for task, state in states.items() if str(state) in FAILED_STATES)
        if failed:
            raise AirflowFailException(f"the run failed at: {', '.join(failed)}")
        self.log.info("Every step ended well: %s", states)
        return {"states": states}
