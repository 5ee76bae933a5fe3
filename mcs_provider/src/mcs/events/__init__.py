"""Run events: one ``run_event`` row per thing that happened in a run, also pushed to Redis.

Anything that records what happened (listeners, rules, commands, the API) calls
:func:`record_event`. The row is the history; the Redis stream ``[mcs] event_stream`` feeds the
live views (Server-Sent Events, the MQTT events topic) without polling the database. The event
JSON shape is described in ``docs/events.md``.

- ``record`` - recording an event, and a state change only once whoever reports it;
- ``runs`` - keeping the ``workflow_run`` row in step with Airflow's DAG run;
- ``report`` - what a node or run state change becomes: events, the row, alerts;
- ``dispatch`` - a background thread so the scheduler's loop never waits for a report;
- ``watch`` - the gateway's watcher for the changes no Airflow listener reports;
- ``stream`` - reading the history and the live stream for the API's SSE routes.

This package may import :mod:`mcs.settings`, :mod:`mcs.db` and :mod:`mcs.alerts`, and Airflow;
never the API or the DAG factory.
"""

from __future__ import annotations

from mcs.events.record import (
    EVENT_KINDS,
    FINAL_RUN_STATES,
    NODE_STATES,
    RUN_STATES,
    event_payload,
    record_event,
    record_state_change,
)

__all__ = [
    "EVENT_KINDS",
    "FINAL_RUN_STATES",
    "NODE_STATES",
    "RUN_STATES",
    "event_payload",
    "record_event",
    "record_state_change",
]
