"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from mcs.db.engine import session_scope


def _session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


# scope="function": the transaction commits before the answer is sent, so a client that acts on
# the answer (publish right after create) always finds what it created.
SessionDep = Annotated[Session, Depends(_session, scope="function")]
