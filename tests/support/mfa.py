"""Second factors in tests: enrolling TOTP through the API, and a software
authenticator (soft-webauthn) speaking the WebAuthn JSON forms."""

from __future__ import annotations

import base64
import copy
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from soft_webauthn import SoftWebauthnDevice

from vaultapi import client
from vaultapi.crypto import totp
from vaultapi.db.types import utcnow

T = TypeVar("T")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def code(secret: str, *, steps: int = 0, at: datetime | None = None) -> str:
    """The code an app shows `steps` 30-second steps from now."""
    return totp.code_at(secret, (at or utcnow()) + timedelta(seconds=30 * steps))


def current_step() -> int:
    return int(utcnow().timestamp()) // totp.PERIOD_SECONDS


async def in_one_step(
    attempt: Callable[[], Awaitable[T]], expected: Callable[[T], bool], *, tries: int = 3
) -> T:
    """Run `attempt` (which computes a code relative to now and sends it) again
    when its result is not the `expected` one and a 30-second step boundary
    passed while it ran: the code then meant another offset than the test
    intended. An unexpected result within one step is returned as is."""
    for _ in range(tries - 1):
        before = current_step()
        result = await attempt()
        if expected(result) or current_step() == before:
            return result
    return await attempt()


async def confirm_totp(http: httpx.AsyncClient, login: client.Login, secret: str) -> httpx.Response:
    """Confirm with the previous step's code, so that a login right after can
    use the current step's."""
    return await in_one_step(
        lambda: http.post(
            "/v1/account/mfa/totp/confirm",
            json={"code": code(secret, steps=-1)},
            headers=login.auth_header,
        ),
        lambda response: response.status_code == 200,
    )


async def enable_totp(http: httpx.AsyncClient, login: client.Login) -> tuple[str, list[str]]:
    """Enrol and confirm TOTP; returns the secret and the recovery codes."""
    started = await http.post("/v1/account/mfa/totp", headers=login.auth_header)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = await confirm_totp(http, login, secret)
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    return secret, codes


async def pending_login(http: httpx.AsyncClient, email: str, password: str) -> client.PendingLogin:
    try:
        await client.login(http, email, password)
    except client.SecondFactorRequired as required:
        return required.pending
    raise AssertionError("the login did not ask for a second factor")


class Authenticator:
    """soft-webauthn behind the WebAuthn Level 3 JSON forms that browsers'
    `parse…OptionsFromJSON()` and `toJSON()` use."""

    def __init__(self) -> None:
        self.device = SoftWebauthnDevice()

    def clone(self) -> Authenticator:
        twin = Authenticator()
        twin.device = copy.deepcopy(self.device)
        return twin

    def create(
        self, options: dict[str, Any], origin: str, *, same_key: bool = False
    ) -> dict[str, Any]:
        """`navigator.credentials.create`; `same_key` presents the credential
        made before instead of a new one."""
        if same_key:
            self.device.cred_init = lambda rp_id, user_handle: None
        public_key = dict(options)
        public_key["challenge"] = unb64url(options["challenge"])
        public_key["user"] = {**options["user"], "id": unb64url(options["user"]["id"])}
        made = self.device.create({"publicKey": public_key}, origin)
        return {
            "id": b64url(made["rawId"]),
            "rawId": b64url(made["rawId"]),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(made["response"]["clientDataJSON"]),
                "attestationObject": b64url(made["response"]["attestationObject"]),
                "transports": ["usb"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any], origin: str) -> dict[str, Any]:
        public_key = {**options, "challenge": unb64url(options["challenge"])}
        made = self.device.get({"publicKey": public_key}, origin)
        user_handle = made["response"]["userHandle"]
        return {
            "id": b64url(made["rawId"]),
            "rawId": b64url(made["rawId"]),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(made["response"]["clientDataJSON"]),
                "authenticatorData": b64url(made["response"]["authenticatorData"]),
                "signature": b64url(made["response"]["signature"]),
                "userHandle": b64url(user_handle) if user_handle else None,
            },
            "clientExtensionResults": {},
        }
