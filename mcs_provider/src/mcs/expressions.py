"""The sandboxed expression evaluator behind every condition in MCS.

An expression is one Jinja expression (what goes between ``{{`` and ``}}``), such as
``payload.state == 'OPEN' and payload.temp > params.limit``. It is checked twice: statically, by
walking its syntax tree for names and attributes that lead to Python internals, and at run time,
by Jinja's immutable sandbox. No ``eval``, no access to anything beginning with ``_``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mcs.errors import ExpressionError

log = logging.getLogger(__name__)

DANGEROUS_NAMES = frozenset(
    {
        "__import__",
        "__builtins__",
        "open",
        "eval",
        "exec",
        "execfile",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "dir",
        "input",
        "breakpoint",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "self",
        "config",
        "request",
        "os",
        "sys",
        "subprocess",
        "builtins",
    }
)
DANGEROUS_ATTRIBUTES = frozenset(
    {
        "mro",
        "func_globals",
        "func_code",
        "f_globals",
        "f_locals",
        "f_back",
        "f_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "im_func",
        "im_self",
        "format",
        "format_map",
    }
)
# Filters that reach attributes by a name given as a string.
ATTRIBUTE_FILTERS = frozenset({"attr", "map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique"})

_environment = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


def _forbidden_name(name: str) -> bool:
    return name.startswith("_") or name in DANGEROUS_NAMES


def _check_node(expr: str, node: nodes.Node) -> None:
    if isinstance(node, nodes.Name) and _forbidden_name(node.name):
        raise ExpressionError(f"expression `{expr}` uses the name `{node.name}`, which is not allowed")
    if isinstance(node, nodes.Getattr) and (node.attr.startswith("_") or node.attr in DANGEROUS_ATTRIBUTES):
        raise ExpressionError(f"expression `{expr}` uses the attribute `{node.attr}`, which is not allowed")
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        key = node.arg.value
        if isinstance(key, str) and (key.startswith("_") or key in DANGEROUS_ATTRIBUTES):
            raise ExpressionError(f"expression `{expr}` uses the key `{key}`, which is not allowed")
    if isinstance(node, nodes.Filter) and node.name in ATTRIBUTE_FILTERS:
        arguments = [*node.args, *(keyword.value for keyword in node.kwargs)]
        for argument in arguments:
            consts = [argument, *argument.find_all(nodes.Const)]
            for const in (c for c in consts if isinstance(c, nodes.Const)):
                if isinstance(const.value, str) and (const.value.startswith("_") or "._" in const.value):
                    raise ExpressionError(
                        f"expression `{expr}` passes `{const.value}` to the filter `{node.name}`, "
                        "which is not allowed"
                    )
    for child in node.iter_child_nodes():
        _check_node(expr, child)


def validate_expression(expr: str) -> None:
    """Raise :class:`~mcs.errors.ExpressionError` if ``expr`` does not parse or is unsafe.

    :param expr: one Jinja expression, without the surrounding ``{{ }}``.
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression must be a string, found {type(expr).__name__}")
    if "{{" in expr or "}}" in expr or "{%" in expr or "%}" in expr:
        raise ExpressionError(f"expression `{expr}` must not contain `{{{{`, `}}}}`, `{{%` or `%}}`")
    try:
        template = _environment.parse("{{ " + expr + " }}")
    except TemplateSyntaxError as exc:
        raise ExpressionError(
            f"expression `{expr}` has a syntax error at line {exc.lineno}: {exc.message}"
        ) from exc

    body = template.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        raise ExpressionError(f"expression `{expr}` must be exactly one expression")
    _check_node(expr, body[0].nodes[0])


@lru_cache(maxsize=512)
def _compile(expr: str):
    validate_expression(expr)
    try:
        return _environment.compile_expression(expr)
    except TemplateSyntaxError as exc:
        raise ExpressionError(
            f"expression `{expr}` has a syntax error at line {exc.lineno}: {exc.message}"
        ) from exc


def evaluate(expr: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate ``expr`` with ``variables`` in the sandbox and return its value.

    An undefined name gives a falsy undefined value (``None`` at the top level), not an error.

    :param expr: one Jinja expression, without the surrounding ``{{ }}``.
    :param variables: the names the expression may use, such as ``payload``, ``topic``, ``params``.
    :raises ExpressionError: the expression is unsafe, does not parse or fails while evaluating.
    """
    compiled = _compile(expr)
    try:
        return compiled(**variables)
    except SecurityError as exc:
        raise ExpressionError(f"expression `{expr}` was stopped by the sandbox: {exc}") from exc
    except Exception as exc:
        raise ExpressionError(f"expression `{expr}` failed: {type(exc).__name__}: {exc}") from exc


def matches(condition: str | None, variables: Mapping[str, Any]) -> bool:
    """Return whether ``condition`` holds; a blank condition always holds.

    An expression that cannot be evaluated does not hold; the reason is logged at WARNING.

    :param condition: one Jinja expression, or ``None`` / blank for "always".
    :param variables: the names the expression may use.
    """
    if condition is None or not condition.strip():
        return True
    try:
        return bool(evaluate(condition, variables))
    except ExpressionError as exc:
        log.warning("Condition does not hold because it cannot be evaluated: %s", exc)
        return False
