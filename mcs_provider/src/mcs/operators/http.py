"""HTTP request step on Airflow's HTTP provider, returning the response as the node's output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.providers.http.operators.http import HttpOperator
from airflow.sdk.exceptions import AirflowTaskTerminated


class UrlHttpHook(HttpHook):
    """An :class:`HttpHook` that also takes an absolute URL with no Connection behind it."""

    def get_conn(self, headers: dict | None = None, extra_options: dict | None = None) -> requests.Session:
        if self.http_conn_id:
            return super().get_conn(headers, extra_options)
        session = requests.Session()
        session.headers.update(headers or {})
        return session

    def url_from_endpoint(self, endpoint: str | None) -> str:
        if not self.http_conn_id:
            return endpoint or ""
        return super().url_from_endpoint(endpoint)


def response_output(response: requests.Response) -> dict[str, Any]:
    """The node's output: status, headers and body (parsed when it is JSON)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": body,
        "url": response.url,
        "elapsed_ms": int(response.elapsed.total_seconds() * 1000),
    }


class HttpRequestOperator(HttpOperator):
    """
    Send one HTTP request.

    :param url: absolute URL, or a path below the base URL of ``http_conn_id``
    :param method: HTTP method
    :param json_body: JSON body (templated, rendered to native types)
    :param body: raw text body, used when ``json_body`` is None
    :param headers: request headers (templated)
    :param http_conn_id: Airflow HTTP Connection with base URL and auth; None for an absolute URL
    :param fail_on_status: fail the step on a 4xx or 5xx answer
    """

    template_fields: Sequence[str] = ("endpoint", "headers", "json_body", "data")

    def __init__(
        self,
        *,
        url: str,
        method: str = "GET",
        json_body: Any = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
        http_conn_id: str | None = None,
        fail_on_status: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            endpoint=url,
            method=method,
            data=body,
            headers=headers,
            http_conn_id=http_conn_id,  # type: ignore[arg-type]
            response_filter=response_output,
            extra_options={"check_response": fail_on_status},
            **kwargs,
        )
        self.json_body = json_body

    @property
    def hook(self) -> HttpHook:
        return UrlHttpHook(method=self.method, http_conn_id=self.http_conn_id)  # type: ignore[arg-type]

    def execute(self, context: Any) -> Any:
        started_at = datetime.now(UTC).isoformat()
        if self.json_body is not None:
            self.request_kwargs["json"] = self.json_body
            self.data = None
        self.log.info("%s %s", self.method, self.endpoint)
        self._in_flight = True
        try:
            output = super().execute(context)
        finally:
            self._in_flight = False
        self.log.info("Answer %s: %s", output["status"], json.dumps(output["body"], ensure_ascii=False)[:500])
        return {**output, "started_at": started_at}

    def on_kill(self) -> None:
        """Abort the request in flight when the step is stopped.

        Airflow calls this from the task process's SIGTERM handler, which its supervisor sends once
        the API server says the task should not run any more (the run was stopped). Raising here
        interrupts the blocking socket read; Airflow records ``AirflowTaskTerminated`` as failed.
        """
        if not getattr(self, "_in_flight", False):
            return
        self.log.info("Stopped: aborting %s %s", self.method, self.endpoint)
        raise AirflowTaskTerminated(f"the step was stopped while waiting for {self.method} {self.endpoint}")
