"""How MCS steps render their templates.

Templates see the run's ``params`` and ``nodes.<key>``, the output of an earlier node, and render
in a sandbox to native JSON types, so ``{"value": "{{ nodes.read.payload.value }}"}`` sends a
number when the device sent a number.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2.nativetypes import NativeCodeGenerator, native_concat
from jinja2.sandbox import ImmutableSandboxedEnvironment


class SandboxedNativeEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no ``_`` attributes, no mutation) that returns native types."""

    code_generator_class = NativeCodeGenerator
    concat = staticmethod(native_concat)


class NodeOutputs:
    """``nodes`` in templates: ``nodes.read`` or ``nodes['读数']`` is that node's output (its XCom)."""

    def __init__(self, ti: Any) -> None:
        self._ti = ti
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._cache:
            self._cache[key] = self._ti.xcom_pull(task_ids=key)
        return self._cache[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        return self[key]


class NodeTemplateMixin:
    """Mixed into every MCS step: sandboxed native rendering with ``nodes`` in the context.

    Build steps with ``render_template_as_native_obj=True`` so Airflow keeps native results.

    ``text_fields`` are turned back into text after rendering (a topic or URL that rendered to a
    number is still a topic or URL).
    """

    text_fields: tuple[str, ...] = ()

    def get_template_env(self, dag: Any = None) -> SandboxedNativeEnvironment:
        from airflow.sdk.definitions._internal.templater import FILTERS

        env = SandboxedNativeEnvironment(cache_size=0)
        env.filters.update(FILTERS)
        return env

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        context["nodes"] = NodeOutputs(context["ti"])
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]
        for name in self.text_fields:
            value = getattr(self, name, None)
            if value is not None and not isinstance(value, str):
                setattr(
                    self,
                    name,
                    json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value),
                )
