"""`/v1/auth`: registration, prelogin, the SRP-6a handshake, tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse

from vaultapi.api.deps import (
    OPTIONAL_AUTH_OPENAPI,
    ClientDep,
    CurrentDep,
    RuntimeDep,
    SessionDep,
    SessionServiceDep,
    login_reading,
    login_verifying,
    login_writing,
    refuse_blocked_ip,
)
from vaultapi.api.presenters import kdf_parameters, token_pair, verified_login_response
from vaultapi.api.responses import problem_responses
from vaultapi.crypto import srp
from vaultapi.db.direct import Db
from vaultapi.errors import (
    AccountDisabled,
    BadRequest,
    EmailTaken,
    Forbidden,
    HandshakeInvalid,
    InternalError,
    InvalidCredentials,
    InvalidKeyMaterial,
    InvalidSRPValue,
    InvalidToken,
    IPBlocked,
    RefreshTokenInvalid,
    RefreshTokenReused,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
    WeakKdfParameters,
)
from vaultapi.schemas import auth as schemas
from vaultapi.schemas import mfa as mfa_schemas
from vaultapi.services.auth import AuthService

# The IP-block check is per route: on the connection each route uses anyway
# (`vaultapi.api.deps.refuse_blocked_ip`; the login routes, which take no
# dependency, make it in the `login_*` context they enter).
router = APIRouter(prefix="/auth", tags=["auth"])
_REFUSE_BLOCKED = [Depends(refuse_blocked_ip)]


@router.post(
    "/register",
    operation_id="register",
    dependencies=_REFUSE_BLOCKED,
    summary="Create an account from client-made KDF, SRP and key material",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        IPBlocked,
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
    responses=problem_responses(IPBlocked, BadRequest, ValidationFailed),
)
async def prelogin(body: schemas.PreloginRequest, request: Request) -> schemas.PreloginResponse:
    async with login_reading(request) as login:
        service = AuthService(login.db, login.runtime, login.client)
        params, salt = await service.prelogin(body.email)
        return schemas.PreloginResponse(kdf=kdf_parameters(params, salt))


@router.post(
    "/srp/start",
    operation_id="startLogin",
    summary="SRP step 1: send A, receive the handshake id, KDF parameters, salt and B",
    responses=problem_responses(
        IPBlocked, BadRequest, InvalidSRPValue, ValidationFailed, TooManyAttempts
    ),
)
async def srp_start(body: schemas.SRPStartRequest, request: Request) -> schemas.SRPStartResponse:
    async with login_writing(request) as login:  # committed when the block ends
        challenge = await AuthService(login.db, login.runtime, login.client).start(
            body.email, body.A
        )
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
    response_model=schemas.SRPVerifyResponse,
    openapi_extra=OPTIONAL_AUTH_OPENAPI,  # a login has no token yet; a step-up sends one
    summary="SRP step 2: send the proof M1, receive M2, tokens and the wrapped keys",
    description=(
        "A correct proof answers 200 with tokens — or, when the account has a "
        "second factor, 202 with an `mfa_token` and the methods that can finish "
        "the login (`/v1/auth/mfa/...`); no token is issued before that.\n\n"
        "Sent with the access token of a session of the same account, a correct "
        "proof re-authenticates that session (recent authentication, needed for "
        "password and e-mail changes, second-factor changes and account deletion) "
        "instead of opening a new one; its refresh token is replaced."
    ),
    responses={
        status.HTTP_202_ACCEPTED: {
            "model": mfa_schemas.MFARequiredResponse,
            "description": "Password proven; a second factor must finish the login",
        },
        **problem_responses(
            IPBlocked,
            InvalidSRPValue,
            InvalidCredentials,
            HandshakeInvalid,
            InvalidToken,
            Forbidden,
            ValidationFailed,
            TooManyAttempts,
        ),
    },
)
async def srp_verify(
    body: schemas.SRPVerifyRequest, request: Request
) -> schemas.SRPVerifyResponse | JSONResponse:
    # Committed when the block ends: after the answer is built, so that a
    # failure building it rolls the new session back.
    async with login_verifying(request) as context:
        login = await AuthService(context.db, context.runtime, context.client).verify(
            body.handshake_id, body.M1, body.device_name, step_up=context.caller
        )
        if login.pending is not None:
            pending = mfa_schemas.MFARequiredResponse(
                mfa_token=login.pending.mfa_token,
                methods=login.pending.methods,
                expires_in=login.pending.expires_in,
                attempts_left=login.pending.attempts_left,
                M2=login.server_proof.hex(),
            )
            return JSONResponse(
                pending.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
            )
        if login.tokens is None:  # pragma: no cover - verify returns tokens or a pending login
            raise InternalError("login finished without tokens")
        return verified_login_response(login.account, login.tokens, login.server_proof)


@router.post(
    "/refresh",
    operation_id="refreshTokens",
    dependencies=_REFUSE_BLOCKED,
    summary="Trade a refresh token for new tokens (the old one stops working)",
    responses=problem_responses(
        IPBlocked, RefreshTokenInvalid, RefreshTokenReused, AccountDisabled, ValidationFailed
    ),
)
async def refresh(body: schemas.RefreshRequest, sessions: SessionServiceDep) -> schemas.TokenPair:
    return token_pair(await sessions.refresh(body.refresh_token))


@router.post(
    "/logout",
    operation_id="logout",
    dependencies=_REFUSE_BLOCKED,
    summary="End this session: its tokens stop working at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(IPBlocked, Unauthorized, InvalidToken, AccountDisabled),
)
async def logout(current: CurrentDep, sessions: SessionServiceDep) -> Response:
    await sessions.logout(current)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
