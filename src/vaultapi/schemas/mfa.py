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

from vaultapi.schemas import examples as ex
from vaultapi.schemas.auth import NO_CONTROL_CHARACTERS, Strict
from vaultapi.schemas.examples import example_config

MFA_TOKEN = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CODE = Annotated[str, StringConstraints(min_length=1, max_length=32)]
CREDENTIAL_NAME = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS)
]

_CHALLENGE = "Xy7bq2VwH1tYc0kP4mN8sR3uLf6aZe9gJd5oQiWvEhU"
_CREDENTIAL_ID = "pQ3r8sT1uV6wX0yZ2aB5cD7eF9gH4iJ"
_CREATION_OPTIONS = {
    "rp": {"name": "vaultapi", "id": "localhost"},
    "user": {"id": "C3yfLjwaTV6fYHqLnA0eLw", "name": ex.EMAIL, "displayName": ex.EMAIL},
    "challenge": _CHALLENGE,
    "pubKeyCredParams": [{"type": "public-key", "alg": -8}, {"type": "public-key", "alg": -7}],
    "timeout": 120000,
    "excludeCredentials": [],
    "authenticatorSelection": {"residentKey": "discouraged", "userVerification": "preferred"},
    "attestation": "none",
}
_REQUEST_OPTIONS = {
    "challenge": _CHALLENGE,
    "timeout": 120000,
    "rpId": "localhost",
    "allowCredentials": [{"type": "public-key", "id": _CREDENTIAL_ID, "transports": ["usb"]}],
    "userVerification": "preferred",
}
_CREDENTIAL_INFO = {
    "id": ex.CREDENTIAL_ID,
    "name": "YubiKey 5C",
    "transports": ["usb", "nfc"],
    "created_at": ex.CREATED_AT,
    "last_used_at": ex.UPDATED_AT,
}


class MFARequiredResponse(BaseModel):
    """The password was right; the account wants its second factor before any token."""

    model_config = example_config(
        {
            "mfa_required": True,
            "mfa_token": ex.MFA_TOKEN,
            "methods": ["totp", "webauthn", "recovery_code"],
            "expires_in": 300,
            "attempts_left": 3,
            "M2": ex.M2,
        }
    )

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
    model_config = example_config({"mfa_token": ex.MFA_TOKEN, "code": "492039"})

    mfa_token: MFA_TOKEN
    code: CODE = Field(description="The 6 digits the authenticator app shows now")


class RecoveryCodeLoginRequest(Strict):
    model_config = example_config({"mfa_token": ex.MFA_TOKEN, "code": ex.RECOVERY_CODES[0]})

    mfa_token: MFA_TOKEN
    code: CODE = Field(description="One unused recovery code (case, spaces, dashes ignored)")


class WebAuthnLoginOptionsRequest(Strict):
    model_config = example_config({"mfa_token": ex.MFA_TOKEN})

    mfa_token: MFA_TOKEN


class WebAuthnCeremony(BaseModel):
    model_config = example_config(
        {"ceremony_id": ex.CEREMONY_ID, "options": _CREATION_OPTIONS, "expires_in": 120}
    )

    ceremony_id: uuid.UUID = Field(description="Send it back with the authenticator's response")
    options: dict[str, Any] = Field(
        description="publicKey options (PublicKeyCredentialCreationOptionsJSON or "
        "PublicKeyCredentialRequestOptionsJSON)"
    )
    expires_in: int


class WebAuthnLoginRequest(Strict):
    model_config = example_config(
        {
            "mfa_token": ex.MFA_TOKEN,
            "ceremony_id": ex.CEREMONY_ID,
            "credential": {
                "id": _CREDENTIAL_ID,
                "rawId": _CREDENTIAL_ID,
                "type": "public-key",
                "response": {
                    "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
                    "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
                    "signature": "MEUCIQDx0Ok3bHc9x2dH8tq1g4wAiEAvR4bZ8uYyQzJ1m3n2o5p",
                    "userHandle": "C3yfLjwaTV6fYHqLnA0eLw",
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "cross-platform",
            },
        }
    )

    mfa_token: MFA_TOKEN
    ceremony_id: uuid.UUID
    credential: dict[str, Any] = Field(description="AuthenticationResponseJSON (`toJSON()`)")


# -- the account's own factors ------------------------------------------------


class TOTPEnrolment(BaseModel):
    model_config = example_config(
        {
            "secret": ex.TOTP_SECRET,
            "otpauth_uri": "otpauth://totp/vaultapi:alice%40example.com?secret="
            + ex.TOTP_SECRET
            + "&issuer=vaultapi",
            "expires_in": 900,
        }
    )

    secret: str = Field(description="Base32: type it into an authenticator app, or use the URI")
    otpauth_uri: str = Field(description="`otpauth://totp/…`, for a QR code")
    expires_in: int = Field(description="Seconds left to confirm with a code")


class TOTPConfirmRequest(Strict):
    model_config = example_config({"code": "492039"})

    code: CODE


class RecoveryCodes(BaseModel):
    model_config = example_config({"recovery_codes": ex.RECOVERY_CODES})

    recovery_codes: list[str] = Field(
        description="Single-use codes, shown this once; each replaces a second factor once"
    )


class FactorEnabled(BaseModel):
    model_config = example_config({"recovery_codes": ex.RECOVERY_CODES})

    recovery_codes: list[str] | None = Field(
        description="New recovery codes when this is the account's first second factor "
        "(shown this once); null when the account already had a set"
    )


class TOTPStatus(BaseModel):
    model_config = example_config(
        {"enabled": True, "confirmed_at": ex.CREATED_AT, "pending": False}
    )

    enabled: bool
    confirmed_at: datetime | None
    pending: bool = Field(description="An enrolment waits for its confirming code")


class WebAuthnCredentialInfo(BaseModel):
    model_config = example_config(_CREDENTIAL_INFO)

    id: uuid.UUID
    name: str
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None


class MFAStatus(BaseModel):
    model_config = example_config(
        {
            "methods": ["totp", "webauthn", "recovery_code"],
            "totp": {"enabled": True, "confirmed_at": ex.CREATED_AT, "pending": False},
            "webauthn": [_CREDENTIAL_INFO],
            "recovery_codes_left": 9,
        }
    )

    methods: list[str] = Field(
        description="What a login of this account must use (`totp`, `webauthn`, "
        "`recovery_code`; more may come); empty: none"
    )
    totp: TOTPStatus
    webauthn: list[WebAuthnCredentialInfo]
    recovery_codes_left: int


class WebAuthnRegisterRequest(Strict):
    model_config = example_config(
        {
            "ceremony_id": ex.CEREMONY_ID,
            "name": "YubiKey 5C",
            "credential": {
                "id": _CREDENTIAL_ID,
                "rawId": _CREDENTIAL_ID,
                "type": "public-key",
                "response": {
                    "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0",
                    "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjESZYN5YgO",
                    "transports": ["usb", "nfc"],
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "cross-platform",
            },
        }
    )

    ceremony_id: uuid.UUID
    name: CREDENTIAL_NAME = Field(description="Shown in the list, e.g. 'YubiKey 5C'")
    credential: dict[str, Any] = Field(description="RegistrationResponseJSON (`toJSON()`)")


class WebAuthnRegistered(FactorEnabled):
    model_config = example_config({"recovery_codes": None, "credential": _CREDENTIAL_INFO})

    credential: WebAuthnCredentialInfo


class WebAuthnRenameRequest(Strict):
    model_config = example_config({"name": "YubiKey 5C (backup)"})

    name: CREDENTIAL_NAME
