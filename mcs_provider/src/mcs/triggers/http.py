"""The HTTP condition trigger: poll a URL in the triggerer until its answer satisfies a condition.

Each poll evaluates the condition over ``status``, ``headers`` (lower-case names), ``body`` (parsed
when it is JSON) and ``params``. A connection error, a timeout of one request, or an answer that
does not satisfy the condition is logged and the URL is polled again after the interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from mcs.expressions import matches
from mcs.triggers.mqtt import _iso

# One request may take this long before it counts as a failed poll.
REQUEST_TIMEOUT = 30.0


def redact_url(url: str) -> str:
    """Return ``url`` without a password in its user info, for logs.

    :param url: an absolute URL.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def response_variables(response: httpx.Response) -> dict[str, Any]:
    """The answer as conditions and the step's output see it: ``status``, ``headers``, ``body``.

    :param response: an httpx response whose body has been read.
    """
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return {"status": response.status_code, "headers": dict(response.headers), "body": body}


class HttpConditionTrigger(BaseTrigger):
    """Poll ``url`` every ``interval_seconds`` until the answer satisfies ``condition``.

    Yields one event: ``{"status": "success", "response": {"status", "headers", "body"}, "polls"}``,
    ``{"status": "timeout", "timeout_at", "polls", "last"}`` or ``{"status": "error", "error"}``.
    Its kwargs hold resolved auth headers: Airflow stores them encrypted, and :meth:`__repr__`
    leaves them out of logs.

    :param url: the absolute URL to poll.
    :param condition: an expression over ``status``, ``headers``, ``body`` and ``params``.
    :param method: the HTTP method.
    :param headers: the request headers, auth included.
    :param json_body: a JSON body to send with each poll; ``None``: no body.
    :param params: the run's params, available to the condition as ``params``.
    :param interval_seconds: seconds between the end of one poll and the start of the next.
    :param timeout_at: epoch seconds at which to give up; ``None``: poll forever.
    :param verify: whether to verify the server's TLS certificate.
    """

    def __init__(
        self,
        url: str,
        condition: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        interval_seconds: float = 10,
        timeout_at: float | None = None,
        verify: bool = True,
    ) -> None:
        super().__init__()
        self.url = url
        self.condition = condition
        self.method = method.upper()
        self.headers = headers or {}
        self.json_body = json_body
        self.params = params or {}
        self.interval_seconds = interval_seconds
        self.timeout_at = timeout_at
        self.verify = verify
        self._polls = 0
        self._last = "no answer yet"

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "url": self.url,
                "condition": self.condition,
                "method": self.method,
                "headers": self.headers,
                "json_body": self.json_body,
                "params": self.params,
                "interval_seconds": self.interval_seconds,
                "timeout_at": self.timeout_at,
                "verify": self.verify,
            },
        )

    def __repr__(self) -> str:
        classpath, kwargs = self.serialize()
        kwargs["headers"] = dict.fromkeys(self.headers, "***")
        kwargs["url"] = redact_url(self.url)
        return self.repr(classpath, kwargs)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        remaining = None if self.timeout_at is None else self.timeout_at - time.time()
        try:
            async with asyncio.timeout(remaining) as deadline:
                response = await self._poll_until_met()
        except TimeoutError:
            if deadline.expired():
                self.log.info(
                    "%s %s did not satisfy %s before %s (%s polls, last: %s)",
                    self.method,
                    redact_url(self.url),
                    self.condition,
                    _iso(int(self.timeout_at * 1000)),
                    self._polls,
                    self._last,
                )
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "timeout_at": self.timeout_at,
                        "polls": self._polls,
                        "last": self._last,
                    }
                )
                return
            yield TriggerEvent({"status": "error", "error": "polling timed out internally"})
            return
        except Exception as exc:
            self.log.exception("Polling %s failed", redact_url(self.url))
            yield TriggerEvent(
                {"status": "error", "error": f"polling `{redact_url(self.url)}` failed: {exc}"}
            )
            return
        yield TriggerEvent({"status": "success", "response": response, "polls": self._polls})

    async def _poll_until_met(self) -> dict[str, Any]:
        where = redact_url(self.url)
        self.log.info(
            "Polling %s %s every %ss until %s", self.method, where, self.interval_seconds, self.condition
        )
        async with httpx.AsyncClient(verify=self.verify, timeout=REQUEST_TIMEOUT) as client:
            while True:
                self._polls += 1
                try:
                    response = await client.request(
                        self.method, self.url, headers=self.headers, json=self.json_body
                    )
                except httpx.TransportError as exc:
                    self._last = f"{type(exc).__name__}: {exc}"
                    self.log.warning(
                        "Poll %s of %s failed (%s); trying again in %ss",
                        self._polls,
                        where,
                        self._last,
                        self.interval_seconds,
                    )
                else:
                    answer = response_variables(response)
                    self._last = f"status {answer['status']}"
                    if matches(self.condition, {**answer, "params": self.params}):
                        self.log.info(
                            "Poll %s of %s answered %s and satisfied %s",
                            self._polls,
                            where,
                            answer["status"],
                            self.condition,
                        )
                        return answer
                    self.log.debug("Poll %s of %s answered %s; not yet", self._polls, where, answer["status"])
                await asyncio.sleep(self.interval_seconds)
