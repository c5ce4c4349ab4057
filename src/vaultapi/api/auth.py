"""`/v1/auth`: registration, prelogin, the SRP-6a handshake, tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from vaultapi.api.deps import (
    ClientDep,
    CurrentDep,
    OptionalWritingCallerDep,
    ReaderDep,
    RuntimeDep,
    SessionDep,
    SessionServiceDep,
    WriterDep,
)
from vaultapi.api.presenters import account_keys, kdf_parameters
from vaultapi.api.responses import problem_responses
from vaultapi.crypto import srp
from vaultapi.db.direct import Db
from vaultapi.errors import (
    AccountDisabled,
    BadRequest,
    EmailTaken,
    Forbidden,
    HandshakeInvalid,
    InvalidCredentials,
    InvalidKeyMaterial,
    InvalidSRPValue,
    InvalidToken,
    RefreshTokenInvalid,
    RefreshTokenReused,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
    WeakKdfParameters,
)
from vaultapi.schemas import auth as schemas
from vaultapi.services.auth import AuthService
from vaultapi.services.sessions import IssuedTokens

router = APIRouter(prefix="/auth", tags=["auth"])


def _token_pair(tokens: IssuedTokens) -> schemas.TokenPair:
    return schemas.TokenPair(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        session_id=tokens.session_id,
    )


@router.post(
    "/register",
    operation_id="register",
    summary="Create an account from client-made KDF, SRP and key material",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        BadRequest,
        InvalidSRPValue,
        InvalidKeyMaterial,
        WeakKdfParameters,
        EmailTaken,
        ValidationFailed,
        TooManyAttempts,
    ),
)
async def register(
    body: schemas.RegisterRequest, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> schemas.RegisterResponse:
    service = AuthService(Db.of_session(session), runtime, client)
    account = await service.register(body, session)
    return schemas.RegisterResponse(account_id=account.id, email=account.email)


@router.post(
    "/prelogin",
    operation_id="prelogin",
    summary="KDF parameters and salt for an e-mail (deterministic fakes for unknown ones)",
    responses=problem_responses(BadRequest, ValidationFailed),
)
async def prelogin(
    body: schemas.PreloginRequest, db: ReaderDep, runtime: RuntimeDep, client: ClientDep
) -> schemas.PreloginResponse:
    params, salt = await AuthService(db, runtime, client).prelogin(body.email)
    return schemas.PreloginResponse(kdf=kdf_parameters(params, salt))


@router.post(
    "/srp/start",
    operation_id="startLogin",
    summary="SRP step 1: send A, receive the handshake id, KDF parameters, salt and B",
    responses=problem_responses(BadRequest, InvalidSRPValue, ValidationFailed, TooManyAttempts),
)
async def srp_start(
    body: schemas.SRPStartRequest, db: WriterDep, runtime: RuntimeDep, client: ClientDep
) -> schemas.SRPStartResponse:
    challenge = await AuthService(db, runtime, client).start(body.email, body.A)
    return schemas.SRPStartResponse(
        handshake_id=challenge.handshake_id,
        kdf=kdf_parameters(challenge.kdf, challenge.kdf_salt),
        srp_salt=challenge.srp_salt.hex(),
        B=srp.encode_int(challenge.public_b),
        expires_in=challenge.expires_in,
    )


@router.post(
    "/srp/verify",
    operation_id="finishLogin",
    summary="SRP step 2: send the proof M1, receive M2, tokens and the wrapped keys",
    description=(
        "Sent with the access token of a session of the same account, a correct "
        "proof re-authenticates that session (recent authentication, needed for "
        "password and e-mail changes and account deletion) instead of opening a "
        "new one; its refresh token is replaced."
    ),
    responses=problem_responses(
        InvalidSRPValue,
        InvalidCredentials,
        HandshakeInvalid,
        InvalidToken,
        Forbidden,
        ValidationFailed,
        TooManyAttempts,
    ),
)
async def srp_verify(
    body: schemas.SRPVerifyRequest,
    db: WriterDep,
    runtime: RuntimeDep,
    client: ClientDep,
    current: OptionalWritingCallerDep,
) -> schemas.SRPVerifyResponse:
    login = await AuthService(db, runtime, client).verify(
        body.handshake_id, body.M1, body.device_name, step_up=current
    )
    account = login.account
    return schemas.SRPVerifyResponse(
        **_token_pair(login.tokens).model_dump(),
        M2=login.server_proof.hex(),
        account_id=account.id,
        keys=account_keys(account),
    )


@router.post(
    "/refresh",
    operation_id="refreshTokens",
    summary="Trade a refresh token for new tokens (the old one stops working)",
    responses=problem_responses(
        RefreshTokenInvalid, RefreshTokenReused, AccountDisabled, ValidationFailed
    ),
)
async def refresh(body: schemas.RefreshRequest, sessions: SessionServiceDep) -> schemas.TokenPair:
    return _token_pair(await sessions.refresh(body.refresh_token))


@router.post(
    "/logout",
    operation_id="logout",
    summary="End this session: its tokens stop working at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthorized, InvalidToken, AccountDisabled),
)
async def logout(current: CurrentDep, sessions: SessionServiceDep) -> Response:
    await sessions.logout(current)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
