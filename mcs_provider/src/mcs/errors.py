"""The exceptions of MCS: one base class, one subclass per kind of failure."""

from __future__ import annotations


class McsError(Exception):
    """Base class of every error MCS raises on purpose."""


class DefinitionError(McsError):
    """A workflow definition is not valid; ``problems`` lists each one with its path."""

    def __init__(self, workflow: str, problems: list[dict]) -> None:
        self.workflow = workflow
        self.problems = problems
        lines = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        super().__init__(f"workflow `{workflow}` is not valid: {lines}")


class NotFoundError(McsError):
    """A workflow, version or run does not exist."""


class ConflictError(McsError):
    """The request clashes with what is stored (a duplicate key, a state that forbids it)."""


class ServiceUnavailableError(McsError):
    """A service MCS needs (PostgreSQL, Redis, the MQTT broker) cannot be reached."""


class ExpressionError(McsError):
    """An expression (a condition, a match) is unsafe, does not parse, or cannot be evaluated."""


class MqttError(McsError):
    """The MQTT broker refused a connection or a message, or did not acknowledge it in time."""
