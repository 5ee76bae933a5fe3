"""JSON Schema of the definition, for the designer's forms and for other tools."""

from __future__ import annotations

from typing import Any

from mcs.definition.model import WorkflowDefinition
from mcs.definition.nodes import NODE_KINDS


def definition_schema() -> dict[str, Any]:
    """The workflow document's schema, plus one schema per node kind's ``config``."""
    return {
        "workflow": WorkflowDefinition.model_json_schema(by_alias=True),
        "node_kinds": {
            kind: {
                "description": (config.__doc__ or "").strip(),
                "config": config.model_json_schema(by_alias=True),
            }
            for kind, config in NODE_KINDS.items()
        },
    }
