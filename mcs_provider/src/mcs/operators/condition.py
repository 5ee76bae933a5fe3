"""Condition step: choose one or more branches by expression, with a default branch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from mcs.expressions import evaluate


class ConditionOperator(BaseOperator):
    """
    Evaluate each branch's expression over ``nodes`` and ``params``.

    :param branches: ``[{"name": ..., "when": ...}]`` in order
    :param default: branch taken when none holds (None: take none)
    :param mode: ``first`` takes the first branch that holds, ``all`` every one
    """

    def __init__(
        self, *, branches: list[dict], default: str | None = "default", mode: str = "first", **kwargs
    ):
        super().__init__(**kwargs)
        self.branches = branches
        self.default = default
        self.mode = mode

    def execute(self, context: Any) -> dict[str, Any]:
        started_at = datetime.now(UTC).isoformat()
        variables = {"nodes": context.get("nodes"), "params": context.get("params", {})}
        chosen = []
        for branch in self.branches:
            if evaluate(branch["when"], variables):
                chosen.append(branch["name"])
                if self.mode == "first":
                    break
        if not chosen and self.default:
            chosen = [self.default]
        self.log.info("Branches chosen: %s", chosen or "none")
        return {"branches": chosen, "started_at": started_at}
