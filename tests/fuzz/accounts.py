"""Credentials for the fuzzer, obtained the way a real client does.

Every account is registered and logged in through the reference client
(`vaultapi.client`: Argon2id, SRP-6a, the unwrapped keys), against the
server under test. The fuzzer never forges a token.

- The *main* account is an admin (`vaultapi admin grant`), so the admin
  routes are exercised past their role check. Its session is used for every
  operation, except those below; when it dies anyway (a 401 on a request that
  carried it), the next case logs in again.
- Operations that end or rewrite the caller's own session or account (log
  out, delete the account, change its password or e-mail) run on a
  *throwaway* account: otherwise one generated request would lock the
  fuzzer out for the rest of the run, and every later case would only ever
  see 401. Most generated requests are refused, and leave the throwaway
  account as it was: it is replaced only after a request succeeded (or its
  session ended), so registrations stay few.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import clean_environment, vaultapi_command
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF

THROWAWAY_OPERATIONS = frozenset(
    {
        ("POST", "/v1/auth/logout"),
        ("DELETE", "/v1/account"),
        ("POST", "/v1/account/password"),
        ("POST", "/v1/account/email"),
    }
)
"""(method, path template) of the operations that get an account of their own."""

_RELOGIN_MARGIN_SECONDS = 60


@dataclass
class _Session:
    access_token: str
    expires_at: float
    """`time.monotonic()` after which the token is not used any more."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class FuzzAccounts:
    """Hands out `Authorization` headers for the cases the fuzzer sends."""

    def __init__(self, base_url: str, database_url: str, workdir: Path) -> None:
        self.base_url = base_url
        self.database_url = database_url
        self.workdir = workdir
        self.email = f"fuzz-admin-{secrets.token_hex(4)}@example.com"
        self.password = secrets.token_urlsafe(24)
        self._main: _Session | None = None
        self._throwaway: _Session | None = None
        self.logins = 0
        """How many times a session was obtained (a sanity figure for the report)."""

    def start(self) -> None:
        """Register the main account and make it an admin."""
        asyncio.run(self._register(self.email, self.password))
        result = subprocess.run(
            vaultapi_command("admin", "grant", self.email),
            cwd=self.workdir,
            env=clean_environment({"VAULTAPI_DATABASE_URL": self.database_url}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def headers_for(self, method: str, path: str) -> dict[str, str]:
        if (method.upper(), path) in THROWAWAY_OPERATIONS:
            if self._throwaway is None or time.monotonic() >= self._throwaway.expires_at:
                email = f"fuzz-throwaway-{secrets.token_hex(6)}@example.com"
                password = secrets.token_urlsafe(24)
                asyncio.run(self._register(email, password))
                self._throwaway = self._login(email, password)
            return self._throwaway.headers
        if self._main is None or time.monotonic() >= self._main.expires_at:
            self._main = self._login(self.email, self.password)
        return self._main.headers

    def saw_response(self, sent: dict[str, str], status: int, body: bytes) -> None:
        """Drop a session the response says is used up: the main one when its
        token is refused (not on every 401: a wrong refresh token or proof is
        a 401 too), the throwaway one also after any success (it logged out,
        or its account was deleted or changed)."""
        token_refused = status == 401 and _problem_code(body) == "invalid_token"
        if self._main is not None and sent == self._main.headers and token_refused:
            self._main = None
        if (
            self._throwaway is not None
            and sent == self._throwaway.headers
            and (token_refused or 200 <= status < 300)
        ):
            self._throwaway = None

    def _login(self, email: str, password: str) -> _Session:
        self.logins += 1
        login = asyncio.run(self._async_login(email, password))
        expires_at = time.monotonic() + max(login.expires_in - _RELOGIN_MARGIN_SECONDS, 1)
        return _Session(login.access_token, expires_at)

    async def _register(self, email: str, password: str) -> None:
        async with self._http() as http:
            await client.register(http, email, password, kdf=MINIMUM_KDF)

    async def _async_login(self, email: str, password: str) -> client.Login:
        async with self._http() as http:
            return await client.login(http, email, password, device_name="fuzzer")

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=60)


def _problem_code(body: bytes) -> object:
    try:
        problem = json.loads(body)
    except ValueError:
        return None
    return problem.get("code") if isinstance(problem, dict) else None
