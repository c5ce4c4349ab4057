"""Logging in and getting a live access token for a command.

`login_flow` is the whole interactive login in one function, second factor
included: a TOTP code or a recovery code is asked for at the prompt (or read
from the next line of standard input). A security key (WebAuthn) needs a
browser or a platform FIDO2 library, which a terminal program cannot assume:
an account whose only second factor is a key gets a clear message instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from vaultapi import client
from vaultapi.client.api import API, ClientError, ProblemError
from vaultapi.client.cli import store
from vaultapi.crypto import totp

DEVICE_NAME = "vault CLI"


class NotLoggedInError(ClientError):
    """No stored session, or the server ended it."""


@dataclass(frozen=True)
class AccessToken:
    """A live access token for one command (never stored)."""

    token: str
    session_id: uuid.UUID

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def login_flow(
    http: httpx.AsyncClient,
    email: str,
    password: str,
    *,
    ask: Callable[[str], str] | None = None,
    device_name: str = DEVICE_NAME,
) -> client.Login:
    """The SRP login, then the second factor if the account has one:
    `ask(prompt)` gets a TOTP or recovery code from the user."""
    return await client.login(
        http,
        email,
        password,
        device_name=device_name,
        second_factor=prompted_second_factor(http, ask),
    )


def prompted_second_factor(
    http: httpx.AsyncClient, ask: Callable[[str], str] | None
) -> client.SecondFactor:
    """Finishes a pending login with a code typed at `ask`'s prompt; a wrong
    code is asked for again while the login has attempts left."""

    async def second_factor(pending: client.PendingLogin) -> client.Login:
        typed = [method for method in pending.methods if method != "webauthn"]
        if not typed:
            raise ClientError(
                "this account's second factor is a security key (WebAuthn), which the "
                "vault CLI cannot use: log in from a browser, or add an authenticator app "
                "(TOTP) to the account"
            )
        if ask is None:
            raise ClientError("this account needs a second factor; run `vault login` in a terminal")
        label = "Authenticator code" if "totp" in typed else "Recovery code"
        if "totp" in typed and "recovery_code" in typed:
            label = "Authenticator code (or a recovery code)"
        while True:
            answer = ask(label).strip()
            try:
                if "totp" in typed and totp.normalize_code(answer) is not None:
                    return await pending.with_totp(http, answer)
                return await pending.with_recovery_code(http, answer)
            except ProblemError as exc:
                left = int(exc.body.get("attempts_left", 0))
                if exc.code != "invalid_second_factor" or left <= 0:
                    raise
                label = f"Wrong code ({left} attempt(s) left). {label}"

    return second_factor


async def fresh_token(http: httpx.AsyncClient, saved: store.StoredSession) -> AccessToken:
    """Trade the stored refresh token for a new pair; store the new refresh
    token at once. A refused token means the session is over: forget it."""
    response = await http.post(API + "/auth/refresh", json={"refresh_token": saved.refresh_token})
    if response.status_code in (400, 401, 403, 422):
        store.forget()
        raise NotLoggedInError("your session has ended: run `vault login` again")
    if response.status_code >= 400:
        body = response.json() if response.content else {}
        raise ProblemError(response.status_code, body if isinstance(body, dict) else {})
    body = response.json()
    store.save(
        store.StoredSession(
            server=saved.server, email=saved.email, refresh_token=body["refresh_token"]
        )
    )
    return AccessToken(body["access_token"], uuid.UUID(body["session_id"]))


def require_session() -> store.StoredSession:
    saved = store.load()
    if saved is None:
        raise NotLoggedInError("not logged in: run `vault login` first")
    return saved
