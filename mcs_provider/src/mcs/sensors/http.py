"""The HTTP condition sensor: poll a URL, deferred, until its answer satisfies a condition."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from mcs.operators.deferral import deferral_timeout
from mcs.triggers.http import HttpConditionTrigger, redact_url

# The trigger reports its own timeout; Airflow's deferral timeout is only the backstop.
# Keys of an HTTP Connection's extra that are request options, not headers (as in the HTTP provider).
EXTRA_OPTIONS = frozenset(
    {
        "stream",
        "cert",
        "proxies",
        "proxy",
        "timeout",
        "verify",
        "verify_ssl",
        "allow_redirects",
        "max_redirects",
        "trust_env",
        "check_response",
        "srv_lookup",
    }
)


def connection_target(conn: Any) -> tuple[str, dict[str, str], bool]:
    """Return the base URL, the headers (auth included) and TLS verification of an HTTP Connection.

    Read as the HTTP provider reads it: ``host`` (with ``schema``, default ``http``, and ``port``)
    is the base URL; ``login``/``password`` become basic auth; other keys of ``extra`` are headers.

    :param conn: an Airflow Connection.
    """
    host = conn.host or ""
    base_url = host if "://" in host else f"{conn.schema or 'http'}://{host}"
    if conn.port:
        base_url = f"{base_url}:{conn.port}"
    extra = conn.extra_dejson or {}
    headers = {str(k): str(v) for k, v in extra.items() if k not in EXTRA_OPTIONS}
    if conn.login:
        token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    verify = extra.get("verify", extra.get("verify_ssl", True))
    return base_url, headers, str(verify).strip().lower() not in {"false", "0", "no"}


def join_url(base_url: str, path: str) -> str:
    """Join a Connection's base URL and a path, with exactly one ``/`` between them."""
    if not path:
        return base_url
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


class HttpConditionSensor(BaseOperator):
    """Poll an HTTP endpoint, deferred, until its answer satisfies ``condition``.

    A refused connection or a failed request is not fatal: it is logged and polled again at the
    next interval. Returns (as XCom) ``{"status", "headers", "body", "polls", "started_at"}`` of
    the answer that satisfied the condition.

    :param url: an absolute URL, or with ``http_conn_id`` a path below the Connection's base URL
        (templated).
    :param condition: an expression over ``status``, ``headers`` (lower-case names), ``body`` (parsed
        when JSON) and ``params``, such as ``status == 200 and body.state == 'done'`` (templated).
    :param method: the HTTP method of each poll.
    :param headers: request headers (templated); they override the Connection's.
    :param json_body: a JSON body sent with each poll (templated); ``None``: no body.
    :param http_conn_id: an Airflow HTTP Connection giving the base URL, basic auth and headers;
        ``None`` for an absolute ``url``.
    :param interval_seconds: seconds between polls.
    :param timeout_seconds: fail with :class:`AirflowSensorTimeout` after this many seconds;
        ``None``: poll forever.
    """

    template_fields: Sequence[str] = ("url", "condition", "headers", "json_body")
    ui_color = "#e1d5e7"

    def __init__(
        self,
        *,
        url: str,
        condition: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        http_conn_id: str | None = None,
        interval_seconds: float = 10,
        timeout_seconds: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, found {interval_seconds!r}")
        self.url = url
        self.condition = condition
        self.method = method.upper()
        self.headers = headers
        self.json_body = json_body
        self.http_conn_id = http_conn_id
        self.interval_seconds = interval_seconds
        self.timeout_seconds = timeout_seconds

    def _target(self) -> tuple[str, dict[str, str], bool]:
        url, headers, verify = str(self.url or ""), {}, True
        if self.http_conn_id:
            base_url, headers, verify = connection_target(BaseHook.get_connection(self.http_conn_id))
            url = join_url(base_url, url)
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(
                f"the URL to poll must be absolute (http or https), or a path with http_conn_id; found `{url}`"
            )
        headers.update({str(k): str(v) for k, v in (self.headers or {}).items()})
        return url, headers, verify

    def execute(self, context: Any) -> None:
        started_at = datetime.now(UTC)
        url, headers, verify = self._target()
        params = context.get("params") or {}
        trigger = HttpConditionTrigger(
            url=url,
            condition=self.condition,
            method=self.method,
            headers=headers,
            json_body=self.json_body,
            params=params.dump() if hasattr(params, "dump") else dict(params),
            interval_seconds=self.interval_seconds,
            timeout_at=None
            if self.timeout_seconds is None
            else started_at.timestamp() + self.timeout_seconds,
            verify=verify,
        )
        self.log.info(
            "Polling %s %s every %ss until %s",
            self.method,
            redact_url(url),
            self.interval_seconds,
            self.condition,
        )
        timeout = deferral_timeout(self.timeout_seconds)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            kwargs={"started_at": started_at.isoformat()},
            timeout=timeout,
        )

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None, started_at: str | None = None
    ) -> dict[str, Any]:
        status = (event or {}).get("status")
        if status == "success":
            response = event["response"]
            self.log.info(
                "Poll %s answered %s and satisfied %s", event["polls"], response["status"], self.condition
            )
            return {
                "status": response["status"],
                "headers": response["headers"],
                "body": response["body"],
                "polls": event["polls"],
                "started_at": started_at,
            }
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"`{self.method} {redact_url(str(self.url))}` did not satisfy `{self.condition}` within "
                f"{self.timeout_seconds}s ({event.get('polls')} polls, last: {event.get('last')})"
            )
        error = (event or {}).get("error", f"unexpected event {event!r}")
        raise AirflowException(f"polling `{redact_url(str(self.url))}` failed: {error}")
