"""One background thread per process that runs reports in the order they were handed over.

The scheduler calls the DAG-run listeners inside its loop; writing events there would make every
run's start and end wait for PostgreSQL and Redis. The listeners hand a report to this thread
instead. The thread is started on first use (so a process that forks before never inherits it),
and at exit it is given a few seconds to finish what is queued.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
DRAIN_SECONDS = 5.0

_queue: queue.Queue[Callable[[], object] | None] = queue.Queue(QUEUE_SIZE)
_lock = threading.Lock()
_thread: threading.Thread | None = None
_owner_pid: int | None = None


def _work() -> None:
    while True:
        job = _queue.get()
        try:
            if job is None:
                return
            job()
        except Exception:
            log.exception("A run event report failed")
        finally:
            _queue.task_done()


def _drain() -> None:
    if _thread is None or _owner_pid != os.getpid():
        return
    _queue.put(None)
    _thread.join(DRAIN_SECONDS)
    if _thread.is_alive():
        log.warning("%s run event reports were still queued at exit", _queue.qsize())


def submit(job: Callable[[], object]) -> None:
    """Run ``job`` on this process' report thread; if the queue is full, drop it (logged)."""
    global _thread, _owner_pid
    with _lock:
        if _thread is None or _owner_pid != os.getpid() or not _thread.is_alive():
            _thread = threading.Thread(target=_work, name="mcs-run-events", daemon=True)
            _thread.start()
            if _owner_pid is None:
                atexit.register(_drain)
            _owner_pid = os.getpid()
    try:
        _queue.put_nowait(job)
    except queue.Full:
        log.error("Dropped a run event report: %s are queued already", QUEUE_SIZE)


def wait_idle(timeout: float = 5.0) -> bool:
    """Wait until every queued report has run (for tests); return whether it did in time."""
    done = threading.Event()

    def waiter() -> None:
        _queue.join()
        done.set()

    threading.Thread(target=waiter, daemon=True).start()
    return done.wait(timeout)
