"""Second factors: the login's second step (`/v1/auth/mfa/...`) and the
account's own factors (`/v1/account/mfa/...`).

WebAuthn options and credentials are the WebAuthn Level 3 JSON forms
(binary fields base64url without padding): browsers produce and consume them
with `PublicKeyCredential.parseCreationOptionsFromJSON()`,
`parseRequestOptionsFromJSON()` and `credential.toJSON()`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from vaultapi.schemas.auth import NO_CONTROL_CHARACTERS, Strict

MFA_TOKEN = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CODE = Annotated[str, StringConstraints(min_length=1, max_length=32)]
CREDENTIAL_NAME = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS)
]


class MFARequiredResponse(BaseModel):
    """The password was right; the account wants its second factor before any token."""

    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="Single use; send it with the second factor")
    methods: list[str] = Field(
        description="What can finish this login: `totp`, `webauthn`, `recovery_code`. "
        "More may come: skip the ones you do not know."
    )
    expires_in: int = Field(description="Seconds left to send the second factor")
    attempts_left: int = Field(description="Wrong second factors this mfa_token survives")
    M2: str = Field(description="Server proof: verify it before sending a second factor")


class TOTPLoginRequest(Strict):
    mfa_token: MFA_TOKEN
    code: CODE = Field(description="The 6 digits the authenticator app shows now")


class RecoveryCodeLoginRequest(Strict):
    mfa_token: MFA_TOKEN
    code: CODE = Field(description="One unused recovery code (case, spaces, dashes ignored)")


class WebAuthnLoginOptionsRequest(Strict):
    mfa_token: MFA_TOKEN


class WebAuthnCeremony(BaseModel):
    ceremony_id: uuid.UUID = Field(description="Send it back with the authenticator's response")
    options: dict[str, Any] = Field(
        description="publicKey options (PublicKeyCredentialCreationOptionsJSON or "
        "PublicKeyCredentialRequestOptionsJSON)"
    )
    expires_in: int


class WebAuthnLoginRequest(Strict):
    mfa_token: MFA_TOKEN
    ceremony_id: uuid.UUID
    credential: dict[str, Any] = Field(description="AuthenticationResponseJSON (`toJSON()`)")


# -- the account's own factors ------------------------------------------------


class TOTPEnrolment(BaseModel):
    secret: str = Field(description="Base32: type it into an authenticator app, or use the URI")
    otpauth_uri: str = Field(description="`otpauth://totp/…`, for a QR code")
    expires_in: int = Field(description="Seconds left to confirm with a code")


class TOTPConfirmRequest(Strict):
    code: CODE


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="Single-use codes, shown this once; each replaces a second factor once"
    )


class FactorEnabled(BaseModel):
    recovery_codes: list[str] | None = Field(
        description="New recovery codes when this is the account's first second factor "
        "(shown this once); null when the account already had a set"
    )


class TOTPStatus(BaseModel):
    enabled: bool
    confirmed_at: datetime | None
    pending: bool = Field(description="An enrolment waits for its confirming code")


class WebAuthnCredentialInfo(BaseModel):
    id: uuid.UUID
    name: str
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None


class MFAStatus(BaseModel):
    methods: list[str] = Field(
        description="What a login of this account must use (`totp`, `webauthn`, "
        "`recovery_code`; more may come); empty: none"
    )
    totp: TOTPStatus
    webauthn: list[WebAuthnCredentialInfo]
    recovery_codes_left: int


class WebAuthnRegisterRequest(Strict):
    ceremony_id: uuid.UUID
    name: CREDENTIAL_NAME = Field(description="Shown in the list, e.g. 'YubiKey 5C'")
    credential: dict[str, Any] = Field(description="RegistrationResponseJSON (`toJSON()`)")


class WebAuthnRegistered(FactorEnabled):
    credential: WebAuthnCredentialInfo


class WebAuthnRenameRequest(Strict):
    name: CREDENTIAL_NAME
