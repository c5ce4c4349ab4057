"""Logging in and getting a live access token for a command.

`login_flow` is the whole interactive login in one function, so that a
second factor can be added in one place: when `srp/verify` starts answering
`mfa_required` with an `mfa_token`, the extra step goes there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from vaultapi import client
from vaultapi.client.api import API, ClientError, ProblemError
from vaultapi.client.cli import store

DEVICE_NAME = "vault CLI"


class NotLoggedInError(ClientError):
    """No stored session, or the server ended it."""


@dataclass(frozen=True)
class AccessToken:
    """A live access token for one command (never stored)."""

    token: str

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
    """The SRP login; `ask(prompt)` is how a later step (a second factor)
    would ask the user for more."""
    del ask  # no second factor yet
    return await client.login(http, email, password, device_name=device_name)


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
    return AccessToken(body["access_token"])


def require_session() -> store.StoredSession:
    saved = store.load()
    if saved is None:
        raise NotLoggedInError("not logged in: run `vault login` first")
    return saved
