"""Hook routes: manage a workflow's HTTP hooks (logged in), and call a hook (its token only).

``router`` is mounted under ``/api/v1`` like every other route and needs an Airflow login.
``public_router`` serves ``POST /hooks/{hook_id}`` outside the login: the hook's token, sent as
``Authorization: Bearer <token>`` or ``X-MCS-Token: <token>``, is all it takes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from mcs.api.datamodels.hooks import (
    CommandAnswer,
    HookBody,
    HookCollectionResponse,
    HookResponse,
    HookTokenResponse,
    MessageAnswer,
)
from mcs.api.deps import SessionDep
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser
from mcs.api.services import hooks
from mcs.api.services.control import Command, execute_command
from mcs.db.engine import session_scope
from mcs.db.models import TriggerBinding

router = APIRouter(prefix="/workflows/{key}/hooks", tags=["hooks"], responses=ERROR_RESPONSES)
public_router = APIRouter(prefix="/hooks", tags=["hooks"])

MAX_BODY = 256 * 1024
STATUS_OF_CODE = {"invalid": 422, "not_found": 404, "conflict": 409, "internal": 500}


def _url(request: Request, hook_id: int) -> str:
    return str(request.url_for("call_hook", hook_id=str(hook_id)))


def _response(request: Request, key: str, binding: TriggerBinding) -> HookResponse:
    return HookResponse(
        id=binding.id,
        workflow_key=key,
        action=binding.action,
        url=_url(request, binding.id),
        topic=binding.topic,
        enabled=binding.enabled,
        created_at=binding.created_at,
        rotated_at=binding.rotated_at,
    )


def _with_token(request: Request, key: str, binding: TriggerBinding, token: str) -> HookTokenResponse:
    return HookTokenResponse(**_response(request, key, binding).model_dump(), token=token)


@router.post("", response_model=HookTokenResponse, status_code=status.HTTP_201_CREATED)
def create_hook(key: str, body: HookBody, request: Request, session: SessionDep, user: CurrentUser):
    binding, token = hooks.create_hook(session, key, body.action, body.topic)
    session.commit()
    session.refresh(binding)
    return _with_token(request, key, binding, token)


@router.get("", response_model=HookCollectionResponse)
def list_hooks(key: str, request: Request, session: SessionDep, user: CurrentUser):
    rows = hooks.list_hooks(session, key)
    return HookCollectionResponse(
        hooks=[_response(request, key, row) for row in rows], total_entries=len(rows)
    )


@router.post("/{hook_id}/rotate", response_model=HookTokenResponse)
def rotate_hook(key: str, hook_id: int, request: Request, session: SessionDep, user: CurrentUser):
    binding, token = hooks.rotate_hook(session, key, hook_id)
    session.commit()
    return _with_token(request, key, binding, token)


@router.delete("/{hook_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_hook(key: str, hook_id: int, session: SessionDep, user: CurrentUser):
    hooks.revoke_hook(session, key, hook_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- the public side


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        status_code=401,
        content={"detail": "missing or wrong hook token"},
        headers={"WWW-Authenticate": "Bearer"},
    )


def _invalid(path: str, message: str) -> JSONResponse:
    problems = [{"path": path, "message": message}]
    return JSONResponse(
        status_code=422, content={"detail": {"message": "the request is not valid", "problems": problems}}
    )


def _token(authorization: str | None, x_mcs_token: str | None) -> str | None:
    if x_mcs_token:
        return x_mcs_token.strip()
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _answer(answer: dict[str, Any], created: bool) -> JSONResponse:
    if answer["ok"]:
        code = 201 if created and not answer["duplicate"] else 200
    else:
        code = STATUS_OF_CODE.get(answer.get("code", ""), 409)
    return JSONResponse(status_code=code, content=json.loads(json.dumps(answer, default=str)))


def _authenticated(hook_id: int, token: str | None) -> bool:
    with session_scope() as session:
        try:
            hooks.authenticate(session, hook_id, token)
        except hooks.HookUnauthorized:
            return False
    return True


def _call(hook_id: int, token: str | None, body: Any, command_id: str | None) -> JSONResponse:
    with session_scope() as session:
        try:
            binding, workflow = hooks.authenticate(session, hook_id, token)
        except hooks.HookUnauthorized:
            return _unauthorized()
        if workflow is None:
            return JSONResponse(
                status_code=404, content={"detail": f"the workflow of hook `{hook_id}` was deleted"}
            )
        session.expunge_all()

    if binding.action == "message":
        try:
            posted = hooks.post_message(binding, workflow, body)
        except hooks.MessageRefused as exc:
            return _invalid(exc.field, str(exc))
        content = MessageAnswer(journal_id=posted.journal_id, topic=posted.topic, published=posted.published)
        return JSONResponse(status_code=202, content=content.model_dump())

    body = {} if body is None else body
    if not isinstance(body, dict):
        return _invalid("body", f"the body must be a JSON object, found {type(body).__name__}")
    body = dict(body)
    command_id = command_id or body.pop("command_id", None)
    if command_id is not None and (not isinstance(command_id, str) or not 0 < len(command_id) <= 200):
        return _invalid(
            "command_id", f"`command_id` must be a string of 1 to 200 characters, found {command_id!r}"
        )
    reason = ""
    if binding.action == "stop":
        reason = body.pop("reason", "") or ""
        if body:
            return _invalid(
                sorted(body)[0], f"`{sorted(body)[0]}` is not a known field; known: ['command_id', 'reason']"
            )
        if not isinstance(reason, str) or len(reason) > 1000:
            return _invalid("reason", "`reason` must be a string of at most 1000 characters")
    answer = execute_command(
        Command(
            key=workflow.key,
            action=binding.action,
            command_id=command_id,
            conf=body if binding.action == "start" else {},
            reason=reason,
            source="http_hook",
            sent_by=f"http_hook:{binding.id}",
        )
    )
    return _answer(answer, created=binding.action == "start")


@public_router.post(
    "/{hook_id}",
    name="call_hook",
    responses={
        200: {
            "model": CommandAnswer,
            "description": "Done (stop), or a start repeated with the same command id",
        },
        201: {"model": CommandAnswer, "description": "A run was started"},
        202: {"model": MessageAnswer, "description": "The device message was recorded and published"},
        401: {"description": "Missing or wrong token, or no such hook (one answer for all)"},
        404: {"description": "The hook's workflow was deleted"},
        409: {"description": "The workflow cannot do it now (not published, disabled)"},
        422: {"description": "The body is not valid; `detail.problems` names the field"},
        429: {"description": "Too many requests to this hook; see `Retry-After`"},
    },
)
async def call_hook(
    hook_id: str,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_mcs_token: Annotated[str | None, Header()] = None,
    x_mcs_command_id: Annotated[str | None, Header()] = None,
):
    """Call a hook: a start hook's body is the run's params (plus an optional `command_id`); a stop hook's
    is `{"reason": ...}`; a message hook's is `{"topic": ..., "payload": ...}`."""
    # Counted before the token is checked: guessing tokens is throttled like any other flood.
    wait = await run_in_threadpool(hooks.retry_after, hook_id[:40])
    if wait is not None:
        return JSONResponse(
            status_code=429,
            content={"detail": f"too many requests to this hook; try again in {wait} s"},
            headers={"Retry-After": str(wait)},
        )
    token = _token(authorization, x_mcs_token)
    if not hook_id.isdigit() or len(hook_id) > 18:
        await run_in_threadpool(hooks.token_matches, token or "", None)
        return _unauthorized()

    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _invalid("body", f"the body must be at most {MAX_BODY} bytes, found {len(raw)}")
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        # Still only after the token check: a stranger learns nothing from a bad body.
        if not await run_in_threadpool(_authenticated, int(hook_id), token):
            return _unauthorized()
        return _invalid("body", f"the body is not valid JSON: {exc}")
    return await run_in_threadpool(_call, int(hook_id), token, body, x_mcs_command_id)
