"""The workflow definition: its pydantic model, node kinds, validation and JSON Schema.

Imports only pydantic and :mod:`mcs.expressions`; the DAG builder, the API and the frontend schema
all start from here.
"""

from __future__ import annotations

from mcs.definition.model import Edge, Node, WorkflowDefinition
from mcs.definition.validate import parse_definition, validate_definition

__all__ = ["Edge", "Node", "WorkflowDefinition", "parse_definition", "validate_definition"]
