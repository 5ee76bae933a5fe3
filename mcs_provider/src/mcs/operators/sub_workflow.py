"""The sub-workflow step: run another published workflow as its own run and wait for it, deferred.

The child run is an Airflow run of the child's DAG and an MCS ``workflow_run`` row (started by
``parent``), so it shows in the child's history. Its run id starts with a prefix derived from the
parent run (:func:`child_run_prefix`), which is how stopping the parent finds and stops it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, DagRunTriggerException
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from mcs.db.engine import session_scope
from mcs.db.models import Workflow, WorkflowRun
from mcs.operators.deferral import deferral_timeout
from mcs.triggers.sub_workflow import SubWorkflowTrigger

# Characters Airflow accepts in a run id by default ([scheduler] allowed_run_id_pattern).
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]+")
# The trigger reports its own timeout; Airflow's deferral timeout is only the backstop.


def _readable(text: str, limit: int) -> str:
    return re.sub(r"\.{2,}", ".", _RUN_ID_UNSAFE.sub("_", text))[:limit]


def _digest(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:10]


def child_run_prefix(parent_dag_id: str, parent_run_id: str) -> str:
    """The start of the run id of every child run that a run of ``parent_dag_id`` starts.

    :param parent_dag_id: the parent workflow's dag id.
    :param parent_run_id: the parent run's Airflow run id.
    """
    return f"sub__{_readable(parent_run_id, 100)}_{_digest(parent_dag_id, parent_run_id)}__"


def child_run_id(
    parent_dag_id: str, parent_run_id: str, task_id: str, try_number: int, map_index: int = -1
) -> str:
    """The Airflow run id of the child run that one try of a sub-workflow step starts.

    Readable (``sub__<parent run>_<hash>__<node>__try<n>``), at most about 230 characters, made only
    of characters Airflow accepts, and different for every try, so a retry starts a fresh run.

    :param parent_dag_id: the parent workflow's dag id.
    :param parent_run_id: the parent run's Airflow run id.
    :param task_id: the sub-workflow step's task id (its node key; Chinese keys are hashed).
    :param try_number: the step's try number.
    :param map_index: the step's map index, ``-1`` when it is not mapped.
    """
    node = _readable(task_id, 80)
    if node != task_id:
        node = f"{node}_{_digest(task_id)}"
    if map_index >= 0:
        node = f"{node}_m{map_index}"
    return f"{child_run_prefix(parent_dag_id, parent_run_id)}{node}__try{try_number}"


def _child_workflow(key: str) -> tuple[int, int]:
    """The id and latest published version of the workflow ``key``, or an error naming it."""
    with session_scope() as session:
        workflow = session.scalar(select(Workflow).where(Workflow.key == key, Workflow.deleted_at.is_(None)))
        if workflow is None:
            raise AirflowException(f"the sub-workflow `{key}` does not exist")
        if workflow.latest_version is None:
            raise AirflowException(f"the sub-workflow `{key}` has no published version")
        if not workflow.enabled:
            raise AirflowException(f"the sub-workflow `{key}` is disabled")
        return workflow.id, workflow.latest_version


def _record_child_run(
    workflow_id: int, version: int, dag_id: str, run_id: str, started_by: str, params: dict
) -> int:
    """Insert the child's ``workflow_run`` row (once, even if this try runs twice); return its id."""
    with session_scope() as session:
        session.execute(
            insert(WorkflowRun)
            .values(
                workflow_id=workflow_id,
                version=version,
                dag_id=dag_id,
                dag_run_id=run_id,
                started_by_kind="parent",
                started_by=started_by[:200],
                trigger_payload=params,
                state="queued",
            )
            .on_conflict_do_nothing(constraint="uq_workflow_run_dag_run")
        )
        return session.scalar(
            select(WorkflowRun.id).where(WorkflowRun.dag_id == dag_id, WorkflowRun.dag_run_id == run_id)
        )


def _mark_child_failed(mcs_run_id: int, reason: str) -> None:
    with session_scope() as session:
        session.execute(
            update(WorkflowRun)
            .where(WorkflowRun.id == mcs_run_id, WorkflowRun.state == "queued")
            .values(state="failed", ended_at=datetime.now(UTC), stop_reason=reason[:1000])
        )


class SubWorkflowOperator(TriggerDagRunOperator):
    """Start a run of another published workflow and wait, deferred, until it ends.

    Built on Airflow's :class:`TriggerDagRunOperator` (its "Triggered DAG" link, run id and conf
    checks), but triggers and defers itself, so that the wait carries ``started_at`` and a timeout.
    The child's failure fails the step, naming the child workflow and run. Returns (as XCom)
    ``{"workflow_key", "run_id", "dag_run_id", "state", "started_at"}``; ``run_id`` is the child's
    MCS run id.

    :param workflow_key: the key of the workflow to run; its latest published version runs.
    :param workflow_params: the child run's params (templated); named so because ``params`` is the
        parent DAG's own params in Airflow.
    :param poll_interval: seconds between two looks at the child run's state.
    :param timeout_seconds: fail with :class:`AirflowSensorTimeout` if the child has not ended after
        this many seconds (the child run goes on); ``None``: wait forever.
    """

    template_fields: Sequence[str] = ("conf",)
    ui_color = "#f8cecc"

    def __init__(
        self,
        *,
        workflow_key: str,
        workflow_params: dict[str, Any] | None = None,
        poll_interval: float = 2,
        timeout_seconds: int | None = None,
        **kwargs: Any,
    ) -> None:
        from mcs.dag_factory.builder import dag_id_for

        super().__init__(
            trigger_dag_id=dag_id_for(workflow_key),
            conf=workflow_params or {},
            logical_date=None,
            wait_for_completion=True,
            deferrable=True,
            poke_interval=poll_interval,
            allowed_states=["success"],
            failed_states=["failed"],
            fail_when_dag_is_paused=True,
            openlineage_inject_parent_info=False,
            **kwargs,
        )
        self.workflow_key = workflow_key
        self.timeout_seconds = timeout_seconds

    def execute(self, context: Any) -> None:
        started_at = datetime.now(UTC)
        ti = context["ti"]
        self.trigger_run_id = child_run_id(
            ti.dag_id, ti.run_id, ti.task_id, ti.try_number, getattr(ti, "map_index", -1)
        )
        workflow_id, version = _child_workflow(self.workflow_key)
        try:
            super().execute(context)
        except DagRunTriggerException as request:
            run_request = request
        else:  # pragma: no cover - Airflow 3 always raises
            raise AirflowException("TriggerDagRunOperator did not ask to trigger a run")

        started_by = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}"
        mcs_run_id = _record_child_run(
            workflow_id,
            version,
            run_request.trigger_dag_id,
            run_request.dag_run_id,
            started_by,
            self.conf or {},
        )
        self._trigger(run_request, mcs_run_id)
        ti.xcom_push(key="trigger_run_id", value=run_request.dag_run_id)
        self.log.info(
            "Started run %s (MCS run %s) of workflow %s, version %s, with params %s",
            run_request.dag_run_id,
            mcs_run_id,
            self.workflow_key,
            version,
            self.conf,
        )

        timeout_at = None if self.timeout_seconds is None else started_at.timestamp() + self.timeout_seconds
        self.defer(
            trigger=SubWorkflowTrigger(
                dag_id=run_request.trigger_dag_id,
                run_id=run_request.dag_run_id,
                poll_interval=self.poke_interval,
                timeout_at=timeout_at,
            ),
            method_name="execute_complete",
            kwargs={
                "started_at": started_at.isoformat(),
                "run_id": mcs_run_id,
                "dag_run_id": run_request.dag_run_id,
            },
            timeout=deferral_timeout(self.timeout_seconds),
        )

    def _trigger(self, run_request: DagRunTriggerException, mcs_run_id: int) -> None:
        """Ask Airflow, through the task's supervisor as Airflow's own runner does, to create the run."""
        from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

        try:
            answer = SUPERVISOR_COMMS.send(
                TriggerDagRun(
                    dag_id=run_request.trigger_dag_id,
                    run_id=run_request.dag_run_id,
                    logical_date=run_request.logical_date,
                    run_after=run_request.run_after,
                    conf=run_request.conf,
                    reset_dag_run=False,
                    note=run_request.note,
                )
            )
        except Exception as exc:
            _mark_child_failed(mcs_run_id, f"Airflow did not start the run: {exc}")
            raise AirflowException(
                f"cannot start run `{run_request.dag_run_id}` of the sub-workflow `{self.workflow_key}`: {exc}"
            ) from exc
        if isinstance(answer, ErrorResponse):
            error = getattr(answer.error, "value", answer.error)
            if error == "DAGRUN_ALREADY_EXISTS":
                # The same try ran execute() twice; the run it started is the one to wait for.
                self.log.info("Run %s exists already; waiting for it", run_request.dag_run_id)
                return
            _mark_child_failed(mcs_run_id, f"Airflow did not start the run: {error}")
            raise AirflowException(
                f"cannot start run `{run_request.dag_run_id}` of the sub-workflow `{self.workflow_key}`: "
                f"{error} {answer.detail or ''}".rstrip()
            )

    def execute_complete(
        self,
        context: Any,
        event: dict[str, Any] | None = None,
        started_at: str | None = None,
        run_id: int | None = None,
        dag_run_id: str | None = None,
    ) -> dict[str, Any]:
        status = (event or {}).get("status")
        if status == "finished" and event["state"] == "success":
            self.log.info("Run %s of workflow %s succeeded", dag_run_id, self.workflow_key)
            return {
                "workflow_key": self.workflow_key,
                "run_id": run_id,
                "dag_run_id": dag_run_id,
                "state": "success",
                "started_at": started_at,
            }
        if status == "finished":
            raise AirflowException(
                f"run `{dag_run_id}` (MCS run {run_id}) of the sub-workflow `{self.workflow_key}` "
                f"ended as {event['state']}"
            )
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"run `{dag_run_id}` (MCS run {run_id}) of the sub-workflow `{self.workflow_key}` did not "
                f"end within {self.timeout_seconds}s (still {event.get('state')})"
            )
        error = (event or {}).get("error", f"unexpected event {event!r}")
        raise AirflowException(
            f"waiting for run `{dag_run_id}` of the sub-workflow `{self.workflow_key}` failed: {error}"
        )
