"""`/v1/account`: the caller's own account and sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from vaultapi.api.deps import ClientDep, CurrentDep, SessionDep, SessionServiceDep
from vaultapi.api.presenters import account_kdf, account_keys
from vaultapi.api.responses import problem_responses
from vaultapi.db.models import Account
from vaultapi.errors import (
    AccountDisabled,
    BadRequest,
    EmailTaken,
    InvalidKeyMaterial,
    InvalidSRPValue,
    InvalidToken,
    NotFound,
    RecentAuthRequired,
    Unauthorized,
    ValidationFailed,
    WeakKdfParameters,
)
from vaultapi.schemas import auth as schemas
from vaultapi.services.account import AccountService

router = APIRouter(prefix="/account", tags=["account"])

AUTH_ERRORS = (Unauthorized, InvalidToken, AccountDisabled)


def _account_info(account: Account) -> schemas.AccountInfo:
    return schemas.AccountInfo(
        id=account.id,
        email=account.email,
        role=account.role,
        created_at=account.created_at,
        kdf=account_kdf(account),
        keys=account_keys(account),
    )


@router.get(
    "",
    operation_id="getAccount",
    summary="The caller's account: e-mail, KDF parameters, wrapped keys",
    responses=problem_responses(*AUTH_ERRORS),
)
async def get_account(current: CurrentDep) -> schemas.AccountInfo:
    return _account_info(current.account)


@router.post(
    "/password",
    operation_id="changePassword",
    summary="Replace the password-derived material; every other session ends",
    responses=problem_responses(
        *AUTH_ERRORS,
        RecentAuthRequired,
        InvalidSRPValue,
        InvalidKeyMaterial,
        WeakKdfParameters,
        ValidationFailed,
    ),
)
async def change_password(
    body: schemas.ChangePasswordRequest,
    current: CurrentDep,
    session: SessionDep,
    sessions: SessionServiceDep,
    client: ClientDep,
) -> schemas.RevokedCount:
    ended = await AccountService(session, sessions, client).change_password(current, body)
    return schemas.RevokedCount(revoked=ended)


@router.post(
    "/email",
    operation_id="changeEmail",
    summary="Change the e-mail (the SRP identity) with a matching new verifier",
    responses=problem_responses(
        *AUTH_ERRORS, RecentAuthRequired, BadRequest, InvalidSRPValue, EmailTaken, ValidationFailed
    ),
)
async def change_email(
    body: schemas.ChangeEmailRequest,
    current: CurrentDep,
    session: SessionDep,
    sessions: SessionServiceDep,
    client: ClientDep,
) -> schemas.AccountInfo:
    account = await AccountService(session, sessions, client).change_email(current, body)
    return _account_info(account)


@router.delete(
    "",
    operation_id="deleteAccount",
    summary="Delete the account and everything in it, for good",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, RecentAuthRequired),
)
async def delete_account(
    current: CurrentDep, session: SessionDep, sessions: SessionServiceDep, client: ClientDep
) -> Response:
    await AccountService(session, sessions, client).delete(current)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/sessions",
    operation_id="listSessions",
    summary="The account's live sessions (devices)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_sessions(current: CurrentDep, sessions: SessionServiceDep) -> schemas.SessionList:
    return schemas.SessionList(
        sessions=[
            schemas.SessionInfo(
                id=s.id,
                device_name=s.device_name,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                last_auth_at=s.last_auth_at,
                created_ip=s.created_ip,
                last_ip=s.last_ip,
                expires_at=s.expires_at,
                current=s.id == current.session.id,
            )
            for s in await sessions.list(current)
        ]
    )


@router.delete(
    "/sessions/{session_id}",
    operation_id="revokeSession",
    summary="End one session of this account (takes effect on its next request)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, NotFound),
)
async def revoke_session(
    session_id: uuid.UUID, current: CurrentDep, sessions: SessionServiceDep
) -> Response:
    await sessions.revoke(current, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/sessions/revoke-others",
    operation_id="revokeOtherSessions",
    summary="End every session of this account except the current one",
    responses=problem_responses(*AUTH_ERRORS),
)
async def revoke_other_sessions(
    current: CurrentDep, sessions: SessionServiceDep
) -> schemas.RevokedCount:
    return schemas.RevokedCount(revoked=await sessions.revoke_others(current))
