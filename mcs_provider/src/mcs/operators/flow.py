"""What every MCS step does when it finishes: follow branches, apply rules, end the run.

The DAG builder gives each step its node's rules, its ``on_timeout`` choice and the workflow's
task graph. Skipping uses the same request Airflow's branch operators send (skip these task
instances of this run), so the Airflow UI shows skipped tasks, and an event in the run's history
says which node skipped what and why.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from mcs.definition.graph import TaskGraph
from mcs.expressions import evaluate


def skip_tasks(task_ids: list[str]) -> None:
    """Mark not-yet-running task instances of this run as skipped."""
    if not task_ids:
        return
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import SkipDownstreamTasks

    task_runner.SUPERVISOR_COMMS.send(msg=SkipDownstreamTasks(tasks=task_ids))


def _record(context: Any, kind: str, node_key: str, message: str, data: dict) -> None:
    from mcs.events import record_event

    dag_run = context["dag_run"]
    record_event(dag_run.dag_id, dag_run.run_id, kind, node_key=node_key, message=message, data=data)


class FlowMixin:
    """Mixed into every MCS step, before the operator class.

    :ivar mcs_rules: the node's rules, as dicts
    :ivar mcs_on_timeout: ``fail``, ``skip`` or ``branch``
    :ivar mcs_graph: the workflow's tasks and edges (``TaskGraph.as_children``)
    """

    # Provided by the operator this is mixed into.
    task_id: str
    log: Any

    mcs_rules: list[dict] = []
    mcs_on_timeout: str = "fail"
    mcs_graph: dict = {}

    def _task_graph(self) -> TaskGraph:
        return TaskGraph.from_children(self.mcs_graph.get("tasks", []), self.mcs_graph.get("children", {}))

    def execute(self, context: Any) -> Any:
        try:
            output = super().execute(context)  # type: ignore[misc]
        except AirflowSensorTimeout as exc:
            return self._timed_out(context, exc)
        return self._finish(context, output)

    def resume_execution(self, next_method: str, next_kwargs: dict | None, context: Any) -> Any:
        try:
            output = super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]
        except AirflowSensorTimeout as exc:
            return self._timed_out(context, exc)
        return self._finish(context, output)

    def chosen_branches(self, output: Any) -> set[str | None]:
        """Which outgoing branches to follow; plain edges have the branch None."""
        return {None}

    def _follow(self, context: Any, chosen: set[str | None]) -> None:
        graph = self._task_graph()
        skipped = graph.branch_skips(self.task_id, chosen)
        if skipped:
            ordered = graph.topological(skipped)
            self.log.info("Following %s; skipping %s", sorted(map(str, chosen)), ordered)
            skip_tasks(ordered)

    def _finish(self, context: Any, output: Any) -> Any:
        self._follow(context, self.chosen_branches(output))
        variables = {"output": output, "nodes": context.get("nodes"), "params": context.get("params", {})}
        for number, rule in enumerate(self.mcs_rules):
            if not evaluate(rule["when"], variables):
                continue
            reason = rule.get("reason") or f"rule {number + 1} of `{self.task_id}` holds: {rule['when']}"
            if rule["action"] == "skip":
                self._skip_by_rule(context, rule, reason)
            else:
                self._end_run(context, rule["action"] == "end_success", reason, {"rule": rule})
        return output

    def _skip_by_rule(self, context: Any, rule: dict, reason: str) -> None:
        graph = self._task_graph()
        targets = [task for key in rule["targets"] for task in graph.expand(key)]
        self.log.info("Skipping %s: %s", targets, reason)
        skip_tasks(targets)
        _record(context, "skip", self.task_id, reason, {"targets": targets, "rule": rule})

    def _end_run(self, context: Any, success: bool, reason: str, data: dict) -> None:
        """Nothing after this step runs: every task not yet started is skipped."""
        graph = self._task_graph()
        # The run-result step is not in the graph's tasks: it must still run to fail the run.
        rest = [task for task in graph.tasks if task != self.task_id]
        result = "success" if success else "failure"
        self.log.info("Ending the run as %s: %s", result, reason)
        skip_tasks(rest)
        _record(context, "end", self.task_id, reason, {**data, "result": result})
        if not success:
            raise AirflowFailException(f"run ended as failure by `{self.task_id}`: {reason}")

    def _timed_out(self, context: Any, error: AirflowSensorTimeout) -> Any:
        if self.mcs_on_timeout == "skip":
            _record(context, "skip", self.task_id, f"timed out: {error}", {"targets": [self.task_id]})
            raise AirflowSkipException(f"timed out, skipped as configured: {error}")
        if self.mcs_on_timeout == "branch":
            self.log.info("Timed out, following the timeout edges: %s", error)
            self._follow(context, {"timeout"})
            return {"timed_out": True, "error": str(error)}
        raise error
