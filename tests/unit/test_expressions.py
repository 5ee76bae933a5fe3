"""The sandboxed expression evaluator: safe expressions evaluate, unsafe ones are rejected."""

from __future__ import annotations

import pytest

from mcs.errors import ExpressionError
from mcs.expressions import evaluate, matches, validate_expression

VARIABLES = {
    "payload": {"state": "OPEN", "temp": 31.5, "tags": ["a", "b"]},
    "topic": "dev/1",
    "params": {"limit": 30},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("payload.state == 'OPEN'", True),
        ("payload['state'] == 'CLOSED'", False),
        ("payload.temp > params.limit", True),
        ("payload.temp * 2", 63.0),
        ("'b' in payload.tags", True),
        ("payload.tags | length", 2),
        ("topic.startswith('dev/')", True),
        ("payload.state | lower", "open"),
        ("[1, 2, 3] | sum", 6),
        ("payload.missing", None),
        ("payload.missing.deeper", None),
    ],
)
def test_safe_expression_evaluates(expr: str, expected: object) -> None:
    assert evaluate(expr, VARIABLES) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("payload.__class__", "the attribute `__class__`"),
        ("().__class__.__bases__[0].__subclasses__()", "the attribute `__subclasses__`"),
        ("payload._private", "the attribute `_private`"),
        ("payload['__class__']", "the key `__class__`"),
        ("payload | attr('__class__')", "passes `__class__` to the filter `attr`"),
        ("payload.tags | map(attribute='__class__')", "passes `__class__` to the filter `map`"),
        ("__import__('os')", "the name `__import__`"),
        ("_secret", "the name `_secret`"),
        ("open('/etc/passwd')", "the name `open`"),
        ("eval('1')", "the name `eval`"),
        ("exec('1')", "the name `exec`"),
        ("getattr(payload, 'x')", "the name `getattr`"),
        ("globals()", "the name `globals`"),
        ("locals()", "the name `locals`"),
        ("vars()", "the name `vars`"),
        ("compile('1', 'x', 'eval')", "the name `compile`"),
        ("lipsum.__globals__", "the attribute `__globals__`"),
        ("lipsum", "the name `lipsum`"),
        ("cycler", "the name `cycler`"),
        ("joiner()", "the name `joiner`"),
        ("namespace()", "the name `namespace`"),
        ("self", "the name `self`"),
        ("config.items()", "the name `config`"),
        ("request.environ", "the name `request`"),
        ("payload.mro", "the attribute `mro`"),
        ("payload.func_globals", "the attribute `func_globals`"),
        ("payload.f_globals", "the attribute `f_globals`"),
        ("payload.gi_frame", "the attribute `gi_frame`"),
        ("'{0.__class__}'.format(payload)", "the attribute `format`"),
    ],
)
def test_unsafe_expression_is_rejected(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match="uses|passes") as caught:
        validate_expression(expr)
    assert message in str(caught.value)


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ExpressionError, match=r"syntax error at line 1"):
        validate_expression("payload.state ==")


def test_statement_block_is_rejected() -> None:
    with pytest.raises(ExpressionError, match=r"must not contain"):
        validate_expression("1 }}{% for x in y %}{{ x")


def test_evaluate_rejects_unsafe_expression() -> None:
    with pytest.raises(ExpressionError, match=r"the attribute `__class__`"):
        evaluate("payload.__class__", VARIABLES)


def test_sandbox_stops_unsafe_call_at_runtime() -> None:
    with pytest.raises(ExpressionError, match=r"stopped by the sandbox"):
        evaluate("payload.tags.append(1)", VARIABLES)


@pytest.mark.parametrize("condition", [None, "", "   "])
def test_blank_condition_matches(condition: str | None) -> None:
    assert matches(condition, {}) is True


def test_failing_condition_does_not_match_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert matches("payload.missing > 3", VARIABLES) is False
    assert "cannot be evaluated" in caplog.text


def test_plain_text_payload_matches() -> None:
    assert matches("payload == 'OPEN'", {"payload": "OPEN"}) is True
