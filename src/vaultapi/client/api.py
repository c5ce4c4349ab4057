"""Registration and login for the v1 suite, over httpx.

The client enforces the KDF minimums itself: a malicious or compromised server
must not be able to talk it into a cheap KDF (which would make the verifier it
then receives cheap to attack offline). It also refuses a server whose M2 does
not verify: such a server does not know the verifier, so it is not ours.

Argon2id runs in a worker thread: it takes a while and should not freeze an
event loop the caller may be running other work on.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vaultapi.crypto import CryptoError, encstring, srp
from vaultapi.crypto.kdf import (
    DEFAULT_KDF,
    KDF_SALT_BYTES,
    KdfParams,
    Subkeys,
    check_kdf_params,
    derive_master_key,
    derive_subkeys,
    normalize_email,
    srp_password,
)

API = "/v1"
ACCOUNT_KEY_AAD = "vaultapi/v1/account-key"
PRIVATE_KEY_AAD = "vaultapi/v1/private-key"


class ClientError(Exception):
    """Something the client refuses to do or accept."""


class ProblemError(ClientError):
    """The server answered with a problem+json error."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.code = str(body.get("code", "unknown"))
        super().__init__(f"{status} {self.code}: {body.get('detail') or body.get('title')}")


class ServerProofError(ClientError):
    """The server could not prove it knows our verifier: it is not our server."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _post(
    http: httpx.AsyncClient,
    path: str,
    json: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await http.post(API + path, json=json, headers=headers)
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"title": response.text[:200]}
        raise ProblemError(response.status_code, body if isinstance(body, dict) else {})
    if response.status_code == 204:
        return {}
    result: dict[str, Any] = response.json()
    return result


def _kdf_body(kdf: KdfParams, salt: bytes) -> dict[str, Any]:
    return {
        "algorithm": kdf.algorithm,
        "memory_kib": kdf.memory_kib,
        "iterations": kdf.iterations,
        "parallelism": kdf.parallelism,
        "salt": salt.hex(),
    }


async def _subkeys(password: str, salt: bytes, params: KdfParams) -> Subkeys:
    master_key = await asyncio.to_thread(derive_master_key, password, salt, params)
    return derive_subkeys(master_key)


@dataclass(frozen=True)
class Registration:
    account_id: uuid.UUID
    email: str


async def register(
    http: httpx.AsyncClient, email: str, password: str, *, kdf: KdfParams = DEFAULT_KDF
) -> Registration:
    check_kdf_params(kdf)
    identity = normalize_email(email)
    kdf_salt = secrets.token_bytes(KDF_SALT_BYTES)
    subkeys = await _subkeys(password, kdf_salt, kdf)
    srp_salt = secrets.token_bytes(srp.SRP_SALT_BYTES)
    verifier = await asyncio.to_thread(
        srp.compute_verifier, identity, srp_password(subkeys.auth_key), srp_salt
    )
    account_key = secrets.token_bytes(32)
    private_key = X25519PrivateKey.generate()
    public_raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    private_raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    body = await _post(
        http,
        "/auth/register",
        {
            "email": email,
            "kdf": _kdf_body(kdf, kdf_salt),
            "srp": {"salt": srp_salt.hex(), "verifier": srp.encode_int(verifier)},
            "keys": {
                "protected_account_key": encstring.encrypt(
                    subkeys.wrap_key, account_key, ACCOUNT_KEY_AAD
                ),
                "public_key": _b64url(public_raw),
                "protected_private_key": encstring.encrypt(
                    account_key, private_raw, PRIVATE_KEY_AAD
                ),
            },
        },
    )
    return Registration(account_id=uuid.UUID(body["account_id"]), email=body["email"])


async def prelogin(http: httpx.AsyncClient, email: str) -> tuple[KdfParams, bytes]:
    body = await _post(http, "/auth/prelogin", {"email": email})
    return _checked_kdf(body["kdf"])


def _checked_kdf(kdf: dict[str, Any]) -> tuple[KdfParams, bytes]:
    if kdf.get("algorithm") != "argon2id":
        raise ClientError(f"unsupported KDF {kdf.get('algorithm')!r}")
    params = KdfParams(
        memory_kib=int(kdf["memory_kib"]),
        iterations=int(kdf["iterations"]),
        parallelism=int(kdf["parallelism"]),
    )
    try:
        check_kdf_params(params)  # the server does not get to weaken our KDF
        salt = bytes.fromhex(kdf["salt"])
    except (CryptoError, ValueError) as exc:
        raise ClientError(f"server sent unacceptable KDF parameters: {exc}") from exc
    return params, salt


@dataclass
class Login:
    """A logged-in session: tokens, and the unwrapped account key (memory only)."""

    account_id: uuid.UUID
    session_id: uuid.UUID
    access_token: str
    refresh_token: str
    expires_in: int
    account_key: bytes = field(repr=False)
    keys: dict[str, str] = field(repr=False)

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    async def refresh(self, http: httpx.AsyncClient) -> None:
        body = await _post(http, "/auth/refresh", {"refresh_token": self.refresh_token})
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.expires_in = int(body["expires_in"])

    async def logout(self, http: httpx.AsyncClient) -> None:
        response = await http.post(API + "/auth/logout", headers=self.auth_header)
        if response.status_code != 204:
            raise ProblemError(response.status_code, response.json())


async def _handshake(
    http: httpx.AsyncClient,
    email: str,
    password: str,
    *,
    device_name: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, Any], Subkeys]:
    """SRP start (which also answers the KDF parameters: A does not depend on the
    password, so no separate prelogin round trip), Argon2id, verify; checks M2.
    Returns the verify body and the subkeys."""
    identity = normalize_email(email)
    start = await asyncio.to_thread(srp.client_start)
    challenge = await _post(
        http, "/auth/srp/start", {"email": email, "A": srp.encode_int(start.public_A)}
    )
    params, kdf_salt = _checked_kdf(challenge["kdf"])
    subkeys = await _subkeys(password, kdf_salt, params)
    try:
        public_b = srp.parse_group_element(challenge["B"], name="B")
        srp_salt = bytes.fromhex(challenge["srp_salt"])
        proof = await asyncio.to_thread(
            srp.client_proof, identity, srp_password(subkeys.auth_key), srp_salt, start, public_b
        )
    except (CryptoError, ValueError) as exc:
        raise ClientError(f"server sent an invalid SRP challenge: {exc}") from exc
    body = await _post(
        http,
        "/auth/srp/verify",
        {
            "handshake_id": challenge["handshake_id"],
            "M1": proof.M1.hex(),
            "device_name": device_name,
        },
        headers=headers,
    )
    try:
        srp.verify_server_proof(proof, srp.parse_proof(body["M2"]))
    except CryptoError as exc:
        raise ServerProofError("the server's proof M2 does not verify") from exc
    return body, subkeys


async def unwrap_account_key(
    password: str, kdf: dict[str, Any], protected_account_key: str
) -> bytes:
    """The account key from the password and what `GET /v1/account` answers
    (`kdf`, `keys.protected_account_key`), without a login: for a client that
    holds a session already and must not keep the key between runs. The KDF
    minimums are enforced as on login; a wrong password raises `ClientError`."""
    params, salt = _checked_kdf(kdf)
    subkeys = await _subkeys(password, salt, params)
    try:
        return encstring.decrypt(subkeys.wrap_key, protected_account_key, ACCOUNT_KEY_AAD)
    except CryptoError as exc:
        raise ClientError("the account key does not decrypt with this password") from exc


def _decrypted_login(body: dict[str, Any], wrap_key: bytes) -> Login:
    keys: dict[str, str] = body["keys"]
    try:
        account_key = encstring.decrypt(wrap_key, keys["protected_account_key"], ACCOUNT_KEY_AAD)
    except CryptoError as exc:
        raise ClientError("the account key does not decrypt with this password") from exc
    return Login(
        account_id=uuid.UUID(body["account_id"]),
        session_id=uuid.UUID(body["session_id"]),
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_in=int(body["expires_in"]),
        account_key=account_key,
        keys=keys,
    )


@dataclass
class PendingLogin:
    """A login whose password was right and whose second factor is due.

    Finish it with one of `methods`: `with_totp`, `with_recovery_code`, or
    `webauthn_options` then `with_webauthn` (the assertion comes from a browser
    or a FIDO2 library: `navigator.credentials.get` on the options). A wrong
    factor raises `ProblemError` (`invalid_second_factor`, with
    `attempts_left`); at zero, log in again."""

    mfa_token: str = field(repr=False)
    methods: list[str]
    expires_in: int
    attempts_left: int
    wrap_key: bytes = field(repr=False)

    async def _finish(self, http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Login:
        answer = await _post(http, "/auth/mfa/" + path, {"mfa_token": self.mfa_token, **body})
        return _decrypted_login(answer, self.wrap_key)

    async def with_totp(self, http: httpx.AsyncClient, code: str) -> Login:
        return await self._finish(http, "totp", {"code": code})

    async def with_recovery_code(self, http: httpx.AsyncClient, code: str) -> Login:
        return await self._finish(http, "recovery-code", {"code": code})

    async def webauthn_options(self, http: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
        """(ceremony_id, PublicKeyCredentialRequestOptionsJSON) for the authenticator."""
        body = await _post(http, "/auth/mfa/webauthn/options", {"mfa_token": self.mfa_token})
        return str(body["ceremony_id"]), dict(body["options"])

    async def with_webauthn(
        self, http: httpx.AsyncClient, ceremony_id: str, credential: dict[str, Any]
    ) -> Login:
        """`credential`: the AuthenticationResponseJSON of the assertion."""
        return await self._finish(
            http, "webauthn", {"ceremony_id": ceremony_id, "credential": credential}
        )


class SecondFactorRequired(ClientError):  # noqa: N818 - a signal to finish, not a failure
    """The account has a second factor: `pending` finishes the login."""

    def __init__(self, pending: PendingLogin) -> None:
        self.pending = pending
        super().__init__(f"a second factor is required: one of {', '.join(pending.methods)}")


SecondFactor = Callable[[PendingLogin], Awaitable[Login]]
"""Finishes a pending login, e.g. by asking the user for a code."""


async def login(
    http: httpx.AsyncClient,
    email: str,
    password: str,
    *,
    device_name: str = "",
    second_factor: SecondFactor | None = None,
) -> Login:
    """Log in. On an account with a second factor, `second_factor` is called
    to finish the login; without one, `SecondFactorRequired` is raised."""
    body, subkeys = await _handshake(http, email, password, device_name=device_name)
    if body.get("mfa_required"):
        pending = PendingLogin(
            mfa_token=body["mfa_token"],
            methods=list(body["methods"]),
            expires_in=int(body["expires_in"]),
            attempts_left=int(body["attempts_left"]),
            wrap_key=subkeys.wrap_key,
        )
        if second_factor is None:
            raise SecondFactorRequired(pending)
        return await second_factor(pending)
    return _decrypted_login(body, subkeys.wrap_key)


async def reauthenticate(http: httpx.AsyncClient, login: Login, email: str, password: str) -> None:
    """Prove the password again on this session (recent authentication)."""
    body, _ = await _handshake(http, email, password, headers=login.auth_header)
    login.access_token = body["access_token"]
    login.refresh_token = body["refresh_token"]
    login.expires_in = int(body["expires_in"])


async def _srp_material(identity: str, auth_key: bytes) -> dict[str, str]:
    srp_salt = secrets.token_bytes(srp.SRP_SALT_BYTES)
    verifier = await asyncio.to_thread(
        srp.compute_verifier, identity, srp_password(auth_key), srp_salt
    )
    return {"salt": srp_salt.hex(), "verifier": srp.encode_int(verifier)}


async def change_password(
    http: httpx.AsyncClient,
    login: Login,
    email: str,
    old_password: str,
    new_password: str,
    *,
    kdf: KdfParams = DEFAULT_KDF,
) -> int:
    """Re-wrap the account key under the new password; returns how many other
    sessions the server ended. Item ciphertexts do not change."""
    check_kdf_params(kdf)
    await reauthenticate(http, login, email, old_password)
    kdf_salt = secrets.token_bytes(KDF_SALT_BYTES)
    subkeys = await _subkeys(new_password, kdf_salt, kdf)
    body = await _post(
        http,
        "/account/password",
        {
            "kdf": _kdf_body(kdf, kdf_salt),
            "srp": await _srp_material(normalize_email(email), subkeys.auth_key),
            "protected_account_key": encstring.encrypt(
                subkeys.wrap_key, login.account_key, ACCOUNT_KEY_AAD
            ),
        },
        headers=login.auth_header,
    )
    return int(body["revoked"])


async def change_email(
    http: httpx.AsyncClient, login: Login, old_email: str, new_email: str, password: str
) -> None:
    """The verifier binds the e-mail, so a new one is computed for the new address
    (same password, same KDF salt: the wrapped account key stays valid)."""
    await reauthenticate(http, login, old_email, password)
    params, kdf_salt = await prelogin(http, old_email)
    subkeys = await _subkeys(password, kdf_salt, params)
    await _post(
        http,
        "/account/email",
        {
            "email": new_email,
            "srp": await _srp_material(normalize_email(new_email), subkeys.auth_key),
        },
        headers=login.auth_header,
    )


async def delete_account(http: httpx.AsyncClient, login: Login, email: str, password: str) -> None:
    await reauthenticate(http, login, email, password)
    response = await http.delete(API + "/account", headers=login.auth_header)
    if response.status_code != 204:
        raise ProblemError(response.status_code, response.json())
