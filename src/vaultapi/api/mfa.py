"""Second factors: finishing a login (`/v1/auth/mfa`) and managing the
account's own factors (`/v1/account/mfa`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from vaultapi.api.deps import (
    ClientDep,
    CurrentDep,
    RuntimeDep,
    SessionDep,
    SessionServiceDep,
    refuse_blocked_ip,
)
from vaultapi.api.presenters import login_response
from vaultapi.api.responses import problem_responses
from vaultapi.db.models import WebAuthnCredential
from vaultapi.errors import (
    AccountDisabled,
    BadRequest,
    CeremonyInvalid,
    InvalidSecondFactor,
    InvalidToken,
    IPBlocked,
    LimitReached,
    MFAStateConflict,
    MFATokenInvalid,
    NotFound,
    RecentAuthRequired,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
    WebAuthnRejected,
)
from vaultapi.schemas import auth as auth_schemas
from vaultapi.schemas import mfa as schemas
from vaultapi.services.mfa import Ceremony, SecondFactors, SecondStep

login_router = APIRouter(
    prefix="/auth/mfa", tags=["auth"], dependencies=[Depends(refuse_blocked_ip)]
)
account_router = APIRouter(prefix="/account/mfa", tags=["second factors"])

SECOND_STEP_ERRORS = (
    MFATokenInvalid,
    InvalidSecondFactor,
    TooManyAttempts,
    ValidationFailed,
    IPBlocked,
)
AUTH_ERRORS = (Unauthorized, InvalidToken, AccountDisabled)


async def get_second_step(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep, sessions: SessionServiceDep
) -> SecondStep:
    return SecondStep(session, runtime, client, sessions)


async def get_factors(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep, sessions: SessionServiceDep
) -> SecondFactors:
    return SecondFactors(session, runtime, client, sessions)


SecondStepDep = Annotated[SecondStep, Depends(get_second_step)]
FactorsDep = Annotated[SecondFactors, Depends(get_factors)]


def _ceremony(ceremony: Ceremony) -> schemas.WebAuthnCeremony:
    return schemas.WebAuthnCeremony(
        ceremony_id=ceremony.ceremony_id, options=ceremony.options, expires_in=ceremony.expires_in
    )


# -- the login's second step -----------------------------------------------------


@login_router.post(
    "/totp",
    operation_id="finishLoginWithTotp",
    summary="Finish a login with the code of the account's authenticator app",
    responses=problem_responses(*SECOND_STEP_ERRORS),
)
async def login_totp(
    body: schemas.TOTPLoginRequest,
    step: SecondStepDep,
) -> auth_schemas.LoginResponse:
    return login_response(*await step.totp(body.mfa_token, body.code))


@login_router.post(
    "/recovery-code",
    operation_id="finishLoginWithRecoveryCode",
    summary="Finish a login with a single-use recovery code",
    responses=problem_responses(*SECOND_STEP_ERRORS),
)
async def login_recovery_code(
    body: schemas.RecoveryCodeLoginRequest,
    step: SecondStepDep,
) -> auth_schemas.LoginResponse:
    return login_response(*await step.recovery_code(body.mfa_token, body.code))


@login_router.post(
    "/webauthn/options",
    operation_id="startLoginWebAuthn",
    summary="Options for a security-key assertion (navigator.credentials.get)",
    responses=problem_responses(MFATokenInvalid, MFAStateConflict, ValidationFailed, IPBlocked),
)
async def login_webauthn_options(
    body: schemas.WebAuthnLoginOptionsRequest,
    step: SecondStepDep,
) -> schemas.WebAuthnCeremony:
    return _ceremony(await step.webauthn_options(body.mfa_token))


@login_router.post(
    "/webauthn",
    operation_id="finishLoginWithWebAuthn",
    summary="Finish a login with a security key's assertion",
    responses=problem_responses(*SECOND_STEP_ERRORS),
)
async def login_webauthn(
    body: schemas.WebAuthnLoginRequest,
    step: SecondStepDep,
) -> auth_schemas.LoginResponse:
    return login_response(*await step.webauthn(body.mfa_token, body.ceremony_id, body.credential))


# -- the account's own factors ---------------------------------------------------


def _credential_info(credential: WebAuthnCredential) -> schemas.WebAuthnCredentialInfo:
    return schemas.WebAuthnCredentialInfo(
        id=credential.id,
        name=credential.name,
        transports=[t for t in credential.transports.split(",") if t],
        created_at=credential.created_at,
        last_used_at=credential.last_used_at,
    )


@account_router.get(
    "",
    operation_id="getSecondFactors",
    summary="The account's second factors: TOTP, security keys, recovery codes left",
    responses=problem_responses(*AUTH_ERRORS),
)
async def get_status(
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.MFAStatus:
    found = await factors.status(current)
    return schemas.MFAStatus(
        methods=found.methods,
        totp=schemas.TOTPStatus(
            enabled=found.totp is not None and found.totp.confirmed_at is not None,
            confirmed_at=found.totp.confirmed_at if found.totp else None,
            pending=found.totp is not None and found.totp.confirmed_at is None,
        ),
        webauthn=[_credential_info(credential) for credential in found.credentials],
        recovery_codes_left=found.recovery_codes_left,
    )


@account_router.post(
    "/totp",
    operation_id="startTotpEnrolment",
    summary="New TOTP secret (not in force until confirmed with a code)",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*AUTH_ERRORS, RecentAuthRequired, MFAStateConflict),
)
async def start_totp(
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.TOTPEnrolment:
    enrolment = await factors.start_totp(current)
    return schemas.TOTPEnrolment(
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        expires_in=enrolment.expires_in,
    )


@account_router.post(
    "/totp/confirm",
    operation_id="confirmTotpEnrolment",
    summary="Turn TOTP on with a code from the app (recovery codes if it is the first factor)",
    responses=problem_responses(*AUTH_ERRORS, BadRequest, MFAStateConflict, ValidationFailed),
)
async def confirm_totp(
    body: schemas.TOTPConfirmRequest,
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.FactorEnabled:
    codes = await factors.confirm_totp(current, body.code)
    return schemas.FactorEnabled(recovery_codes=codes)


@account_router.delete(
    "/totp",
    operation_id="disableTotp",
    summary="Turn TOTP off",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, RecentAuthRequired, NotFound),
)
async def disable_totp(
    current: CurrentDep,
    factors: FactorsDep,
) -> Response:
    await factors.disable_totp(current)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@account_router.post(
    "/recovery-codes",
    operation_id="regenerateRecoveryCodes",
    summary="A new set of recovery codes; the old set stops working",
    responses=problem_responses(*AUTH_ERRORS, RecentAuthRequired, MFAStateConflict),
)
async def regenerate_recovery_codes(
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.RecoveryCodes:
    return schemas.RecoveryCodes(recovery_codes=await factors.regenerate_recovery_codes(current))


@account_router.post(
    "/webauthn/options",
    operation_id="startWebAuthnRegistration",
    summary="Options for registering a security key (navigator.credentials.create)",
    responses=problem_responses(*AUTH_ERRORS, RecentAuthRequired, LimitReached),
)
async def webauthn_register_options(
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.WebAuthnCeremony:
    return _ceremony(await factors.webauthn_register_options(current))


@account_router.post(
    "/webauthn",
    operation_id="finishWebAuthnRegistration",
    summary="Register a security key from its attestation response",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *AUTH_ERRORS,
        CeremonyInvalid,
        WebAuthnRejected,
        MFAStateConflict,
        LimitReached,
        ValidationFailed,
    ),
)
async def webauthn_register(
    body: schemas.WebAuthnRegisterRequest,
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.WebAuthnRegistered:
    credential, codes = await factors.webauthn_register(
        current, body.ceremony_id, body.name, body.credential
    )
    return schemas.WebAuthnRegistered(credential=_credential_info(credential), recovery_codes=codes)


@account_router.patch(
    "/webauthn/{credential_id}",
    operation_id="renameWebAuthnCredential",
    summary="Rename a security key",
    responses=problem_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
)
async def rename_webauthn(
    credential_id: uuid.UUID,
    body: schemas.WebAuthnRenameRequest,
    current: CurrentDep,
    factors: FactorsDep,
) -> schemas.WebAuthnCredentialInfo:
    return _credential_info(await factors.rename_credential(current, credential_id, body.name))


@account_router.delete(
    "/webauthn/{credential_id}",
    operation_id="removeWebAuthnCredential",
    summary="Remove a security key",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*AUTH_ERRORS, RecentAuthRequired, NotFound),
)
async def remove_webauthn(
    credential_id: uuid.UUID,
    current: CurrentDep,
    factors: FactorsDep,
) -> Response:
    await factors.remove_credential(current, credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
