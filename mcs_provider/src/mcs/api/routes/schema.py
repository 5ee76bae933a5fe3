"""The definition's JSON Schema, for the designer and other tools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser
from mcs.definition.schema import definition_schema

router = APIRouter(tags=["schema"], responses={401: ERROR_RESPONSES[401]})


@router.get("/schema/definition")
def get_definition_schema(user: CurrentUser) -> dict[str, Any]:
    return definition_schema()
