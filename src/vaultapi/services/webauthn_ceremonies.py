"""WebAuthn ceremonies on py_webauthn, with our policy in one place.

- Security keys are a *second* factor: user presence is required, user
  verification (PIN, biometrics) is welcome but not required, and no
  discoverable credential is asked for.
- Attestation `none`: we do not restrict which authenticator models may be
  used, so there is nothing to gain from attestation statements.
- The RP id and the accepted origins come from settings (`mfa.webauthn_*`).
- Options and credentials travel as the WebAuthn Level 3 JSON forms
  (`PublicKeyCredential.parseCreationOptionsFromJSON()` / `toJSON()` in
  browsers), base64url without padding for binary fields.

Anything the library rejects — wrong challenge, origin, RP id, signature,
a sign counter that did not move forward, malformed input — becomes
`ResponseRejectedError` with the library's reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from typing import Any

import webauthn
from webauthn.helpers import decode_credential_public_key, decoded_public_key_to_cryptography
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vaultapi.config import MFASettings

CHALLENGE_BYTES = 32
MAX_CREDENTIAL_ID_BYTES = 1023
"""The WebAuthn limit for a credential id."""
MAX_PUBLIC_KEY_BYTES = 2048
MAX_REASON_CHARACTERS = 200
"""Rejection reasons may quote client-chosen values (an origin): keep them short."""


class ResponseRejectedError(Exception):
    """The authenticator's response does not verify (the reason is in the message)."""


@dataclass(frozen=True)
class NewCredential:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]


@dataclass(frozen=True)
class KnownCredential:
    credential_id: bytes
    transports: list[str]


def _b64url_decode(value: object) -> bytes:
    if not isinstance(value, str) or len(value) > 2 * MAX_CREDENTIAL_ID_BYTES:
        raise ResponseRejectedError("rawId must be a base64url string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ResponseRejectedError("rawId is not base64url") from exc


def credential_id_of(credential: dict[str, Any]) -> bytes:
    """The credential id a response names (`rawId`), before verifying anything."""
    raw = _b64url_decode(credential.get("rawId"))
    if not raw or len(raw) > MAX_CREDENTIAL_ID_BYTES:
        raise ResponseRejectedError("rawId has an impossible length")
    return raw


def _timeout_ms(settings: MFASettings) -> int:
    return settings.webauthn_challenge_ttl_seconds * 1000


def _transports(names: list[str]) -> list[AuthenticatorTransport]:
    known = {transport.value for transport in AuthenticatorTransport}
    return [AuthenticatorTransport(name) for name in names if name in known]


def registration_options(
    settings: MFASettings,
    *,
    account_id: uuid.UUID,
    email: str,
    challenge: bytes,
    existing: list[KnownCredential],
) -> dict[str, Any]:
    options = webauthn.generate_registration_options(
        rp_id=settings.webauthn_rp_id,
        rp_name=settings.webauthn_rp_name,
        user_id=account_id.bytes,
        user_name=email,
        user_display_name=email,
        challenge=challenge,
        timeout=_timeout_ms(settings),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(
                id=known.credential_id, transports=_transports(known.transports)
            )
            for known in existing
        ],
    )
    result: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return result


def verify_registration(
    settings: MFASettings, credential: dict[str, Any], challenge: bytes
) -> NewCredential:
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=settings.webauthn_origins,
            require_user_verification=False,
        )
        # The library stores whatever key the attestation carries: refuse one
        # that could never verify a signature, rather than a key that fails
        # every later login.
        decoded_public_key_to_cryptography(
            decode_credential_public_key(verified.credential_public_key)
        )
    except Exception as exc:  # the library parses hostile input: any failure is a rejection
        raise ResponseRejectedError(_reason(exc)) from exc
    if not 1 <= len(verified.credential_id) <= MAX_CREDENTIAL_ID_BYTES:
        raise ResponseRejectedError("the credential id is longer than WebAuthn allows")
    if len(verified.credential_public_key) > MAX_PUBLIC_KEY_BYTES:
        raise ResponseRejectedError("the credential public key is implausibly large")
    response = credential.get("response")
    transports = response.get("transports") if isinstance(response, dict) else None
    names = (
        [t for t in transports if isinstance(t, str)][:8] if isinstance(transports, list) else []
    )
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t.value for t in _transports(names)],
    )


def authentication_options(
    settings: MFASettings, *, challenge: bytes, allowed: list[KnownCredential]
) -> dict[str, Any]:
    options = webauthn.generate_authentication_options(
        rp_id=settings.webauthn_rp_id,
        challenge=challenge,
        timeout=_timeout_ms(settings),
        allow_credentials=[
            PublicKeyCredentialDescriptor(
                id=known.credential_id, transports=_transports(known.transports)
            )
            for known in allowed
        ],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    result: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return result


def verify_authentication(
    settings: MFASettings,
    credential: dict[str, Any],
    *,
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
) -> int:
    """Verify an assertion; returns the authenticator's new sign count."""
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=settings.webauthn_origins,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=False,
        )
    except Exception as exc:  # the library parses hostile input: any failure is a rejection
        raise ResponseRejectedError(_reason(exc)) from exc
    return int(verified.new_sign_count)


def _reason(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:MAX_REASON_CHARACTERS]
