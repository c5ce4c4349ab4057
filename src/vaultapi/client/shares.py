"""Time-limited shares, client side: encrypt, make the link, open it.

```python
created = await Share.create(http, login, "hunter2", ttl=timedelta(hours=1), views=1)
print(created.link)            # https://vault.example.com/v1/shares/<id>#v1.<key>
secret = await Share.open(created.link)
secret = open_share(link, passphrase="...")   # the one-liner for scripts (blocking)
```

The key is made here and only ever travels in the link's fragment (which
browsers and HTTP clients do not send). The ciphertext is bound to the share
id (AAD): one that was altered, or moved from another share, fails to
decrypt and raises `TamperedShareError` instead of returning garbage.
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from vaultapi.client.api import API, ClientError, ProblemError
from vaultapi.crypto import CryptoError
from vaultapi.crypto import share as share_crypto

DEFAULT_TTL = timedelta(hours=1)


class Authorized(Protocol):
    """What the owner operations need: a `Login`, or anything holding a live
    access token (the CLI, which keeps only a refresh token)."""

    @property
    def auth_header(self) -> dict[str, str]: ...


class TamperedShareError(ClientError):
    """The ciphertext does not decrypt with the link's key: altered, moved from
    another share, or a wrong passphrase accepted by a dishonest server."""


@dataclass(frozen=True)
class ShareInfo:
    """A share as its owner sees it (never the secret)."""

    id: uuid.UUID
    state: str
    protected: bool
    created_at: datetime
    expires_at: datetime
    max_views: int
    views_used: int
    views_left: int
    failed_proofs: int
    last_opened_at: datetime | None
    revoked_at: datetime | None
    locked_at: datetime | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ShareInfo:
        def when(name: str) -> datetime | None:
            value = body.get(name)
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=uuid.UUID(body["id"]),
            state=str(body["state"]),
            protected=bool(body["protected"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            expires_at=datetime.fromisoformat(body["expires_at"]),
            max_views=int(body["max_views"]),
            views_used=int(body["views_used"]),
            views_left=int(body["views_left"]),
            failed_proofs=int(body["failed_proofs"]),
            last_opened_at=when("last_opened_at"),
            revoked_at=when("revoked_at"),
            locked_at=when("locked_at"),
        )


@dataclass(frozen=True)
class CreatedShare:
    link: str
    """Holds the key: hand it over, do not log it."""
    info: ShareInfo

    @property
    def id(self) -> uuid.UUID:
        return self.info.id

    @property
    def expires_at(self) -> datetime:
        return self.info.expires_at


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"title": response.text[:200]}
        raise ProblemError(response.status_code, body if isinstance(body, dict) else {})


def _minutes(ttl: timedelta | int) -> int:
    minutes = int(ttl.total_seconds() // 60) if isinstance(ttl, timedelta) else int(ttl)
    if minutes < 1:
        raise ClientError("a share lives at least one minute")
    return minutes


class Share:
    """Namespace for the share operations (owner ones need a `Login`)."""

    @staticmethod
    async def create(
        http: httpx.AsyncClient,
        login: Authorized,
        secret: str,
        *,
        ttl: timedelta | int = DEFAULT_TTL,
        views: int = 1,
        passphrase: str | None = None,
    ) -> CreatedShare:
        """Encrypt `secret` under a new key and register it. `ttl` is a
        timedelta or whole minutes; `views` how often it may be opened."""
        if not isinstance(secret, str):
            raise ClientError("the secret must be a string")
        if passphrase is not None and not passphrase:
            raise ClientError("an empty passphrase protects nothing; pass None instead")
        share_id = uuid.uuid4()
        share_key = share_crypto.new_share_key()
        keys = await asyncio.to_thread(share_crypto.derive_keys, share_key, passphrase)
        try:
            ciphertext = share_crypto.seal(keys, share_id, secret.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ClientError("the secret is not valid Unicode text") from exc
        body: dict[str, Any] = {
            "id": str(share_id),
            "ciphertext": ciphertext,
            "expires_in_minutes": _minutes(ttl),
            "max_views": views,
        }
        if keys.access_proof is not None:
            body["access_proof"] = keys.access_proof.hex()
        response = await http.post(API + "/shares", json=body, headers=login.auth_header)
        _raise_for_problem(response)
        info = ShareInfo.from_json(response.json())
        link = share_crypto.make_link(
            str(http.base_url), share_id, share_key, protected=keys.access_proof is not None
        )
        return CreatedShare(link=link, info=info)

    @staticmethod
    async def open(
        link: str, passphrase: str | None = None, *, http: httpx.AsyncClient | None = None
    ) -> str:
        """The secret behind `link` (spends one view). Anonymous: no login.
        `http` is used as is when given (its base URL must be the link's server)."""
        try:
            parsed = share_crypto.parse_link(link)
        except CryptoError as exc:
            raise ClientError(f"not a share link: {exc}") from exc
        if parsed.protected and passphrase is None:
            raise ClientError("this share is protected: give its passphrase")
        keys = await asyncio.to_thread(share_crypto.derive_keys, parsed.share_key, passphrase)
        body = {} if keys.access_proof is None else {"access_proof": keys.access_proof.hex()}
        path = f"{API}/shares/{parsed.share_id}/open"
        if http is None:
            async with httpx.AsyncClient(base_url=parsed.base_url, timeout=30) as own:
                response = await own.post(path, json=body)
        else:
            response = await http.post(path, json=body)
        _raise_for_problem(response)
        try:
            plaintext = share_crypto.unseal(keys, parsed.share_id, response.json()["ciphertext"])
            return plaintext.decode("utf-8")
        except (CryptoError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise TamperedShareError(
                "the share's ciphertext does not decrypt with this link's key: it was altered "
                "or belongs to another share; refusing it"
            ) from exc

    @staticmethod
    async def list(http: httpx.AsyncClient, login: Authorized) -> builtins.list[ShareInfo]:
        response = await http.get(API + "/shares", headers=login.auth_header)
        _raise_for_problem(response)
        return [ShareInfo.from_json(item) for item in response.json()["shares"]]

    @staticmethod
    async def revoke(http: httpx.AsyncClient, login: Authorized, share_id: uuid.UUID) -> ShareInfo:
        response = await http.delete(f"{API}/shares/{share_id}", headers=login.auth_header)
        _raise_for_problem(response)
        return ShareInfo.from_json(response.json())


def open_share(link: str, passphrase: str | None = None) -> str:
    """`secret = open_share(link)`: the blocking one-liner for scripts."""
    return asyncio.run(Share.open(link, passphrase))
