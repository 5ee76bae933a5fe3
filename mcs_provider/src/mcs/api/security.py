"""Authentication of the MCS API: Airflow's own login (JWT in a header or the UI's cookie)."""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends

CurrentUser = Annotated[BaseUser, Depends(get_user)]


def user_name(user: BaseUser) -> str:
    return user.get_name() or user.get_id() or ""
