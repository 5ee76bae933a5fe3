"""Wait-until step: defer until a moment, holding no worker slot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator


def parse_moment(value: Any, timezone: str) -> datetime:
    """An ISO-8601 time; one without an offset is read in ``timezone``."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


class WaitUntilOperator(BaseOperator):
    """
    Defer until ``until``; a moment already past finishes at once.

    :param until: ISO-8601 time (templated)
    :param timezone: zone of an ``until`` without an offset
    """

    template_fields = ("until",)

    def __init__(self, *, until: str, timezone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.until = until
        self.timezone = timezone

    def execute(self, context: Any) -> Any:
        started_at = datetime.now(UTC).isoformat()
        try:
            moment = parse_moment(self.until, self.timezone)
        except ValueError as exc:
            raise ValueError(f"`until` must be an ISO-8601 time, found {self.until!r}") from exc
        if moment <= datetime.now(UTC):
            self.log.info("%s has passed; going on", moment.isoformat())
            return {"until": moment.isoformat(), "started_at": started_at}
        self.log.info("Waiting until %s", moment.isoformat())
        self.defer(
            trigger=DateTimeTrigger(moment=moment),
            method_name="execute_complete",
            kwargs={"started_at": started_at, "until": moment.isoformat()},
        )

    def execute_complete(
        self, context: Any, event: Any = None, started_at: str = "", until: str = ""
    ) -> dict:
        return {"until": until, "started_at": started_at}
