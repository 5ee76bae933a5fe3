"""How MCS errors become HTTP answers: one place, so every route answers alike."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from mcs.definition.validate import format_loc
from mcs.errors import ConflictError, DefinitionError, NotFoundError, ServiceUnavailableError

log = logging.getLogger(__name__)

# Declared on every route that can answer them, so the OpenAPI document lists them.
ERROR_RESPONSES = {
    401: {"description": "Not logged in"},
    403: {"description": "Not allowed"},
    404: {"description": "No such workflow or run"},
    409: {"description": "Conflicts with what is stored"},
    422: {"description": "The request is not valid; `detail.problems` names each bad field"},
}


def _problem_response(message: str, problems: list[dict], workflow: str | None = None) -> JSONResponse:
    detail = {"message": message, "problems": problems}
    if workflow:
        detail["workflow"] = workflow
    return JSONResponse(status_code=422, content={"detail": detail})


def _request_problems(exc: RequestValidationError) -> list[dict]:
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = loc.pop(0) if loc else "body"
        path = format_loc(loc) if loc else where
        if error["type"] == "json_invalid":
            message = f"the body is not valid JSON: {error.get('ctx', {}).get('error', error['msg'])}"
            path = "body"
        elif error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "is not a known field"
        else:
            message = error["msg"].removeprefix("Value error, ")
        problems.append({"path": path if where == "body" else f"{where}.{path}", "message": message})
    return problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem_response("the request is not valid", _request_problems(exc))

    @app.exception_handler(DefinitionError)
    async def _invalid_definition(request: Request, exc: DefinitionError) -> JSONResponse:
        return _problem_response(f"workflow `{exc.workflow}` is not valid", exc.problems, exc.workflow)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("Integrity error answered with 409: %s", exc.orig)
        return JSONResponse(status_code=409, content={"detail": "the request conflicts with a stored record"})

    @app.exception_handler(ServiceUnavailableError)
    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("A service MCS needs is unavailable: %s", str(exc).splitlines()[0])
        return JSONResponse(status_code=503, content={"detail": "a database MCS needs cannot be reached"})
