"""How long Airflow lets a waiting step stay deferred."""

from __future__ import annotations

from datetime import timedelta

# A wait's own trigger reports its timeout with a clear message; Airflow's deferral timeout is only
# a backstop, a little later, for a trigger that never answers.
DEFERRAL_GRACE = timedelta(seconds=60)


def deferral_timeout(timeout_seconds: float | None) -> timedelta | None:
    """Airflow's deferral timeout for a wait of ``timeout_seconds`` (None: no limit)."""
    return None if timeout_seconds is None else timedelta(seconds=timeout_seconds) + DEFERRAL_GRACE
