"""Access tokens, refresh rotation, logout and session management."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.crypto.tokens import TokenKeys, issue_access_token
from vaultapi.db.types import utcnow


async def status_with(http: httpx.AsyncClient, token: str) -> tuple[int, str]:
    response = await http.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("code", "")


async def test_no_token_is_401_with_a_challenge(client_http: httpx.AsyncClient) -> None:
    response = await client_http.get("/v1/account")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "e30.e30.", "Bearer", "a" * 5000])
async def test_garbage_tokens_are_401(client_http: httpx.AsyncClient, token: str) -> None:
    status, code = await status_with(client_http, token)
    assert status == 401
    assert code in ("invalid_token", "unauthorized")


def _forge(
    keys: TokenKeys,
    login: client.Login,
    *,
    issuer: str = "vaultapi",
    audience: str = "vaultapi",
    ttl: timedelta = timedelta(minutes=5),
    now_shift: timedelta = timedelta(0),
) -> str:
    token, _ = issue_access_token(
        keys,
        account_id=login.account_id,
        session_id=login.session_id,
        role="admin",
        issuer=issuer,
        audience=audience,
        ttl=ttl,
        now=utcnow() + now_shift,
    )
    return token


async def test_a_token_signed_by_another_key_is_refused(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    login = await client.login(client_http, EMAIL, PASSWORD)
    stranger = TokenKeys("EdDSA", ed25519=Ed25519PrivateKey.generate())
    assert await status_with(client_http, _forge(stranger, login)) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("change", "value"),
    [("issuer", "evil"), ("audience", "other-service")],
)
async def test_wrong_issuer_or_audience_is_refused(
    client_http: httpx.AsyncClient, alice: Account, change: str, value: str
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    keys = runtime_of(client_http).token_keys
    token = _forge(keys, login, **{change: value})  # type: ignore[arg-type]
    assert await status_with(client_http, token) == (401, "invalid_token")


async def test_an_expired_token_is_refused(client_http: httpx.AsyncClient, alice: Account) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    keys = runtime_of(client_http).token_keys
    token = _forge(keys, login, now_shift=timedelta(hours=-1))
    assert await status_with(client_http, token) == (401, "invalid_token")


async def test_alg_none_and_algorithm_confusion_are_refused(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    claims = jwt.decode(login.access_token, options={"verify_signature": False})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode())
    unsigned = f"{header.decode().rstrip('=')}.{payload.decode().rstrip('=')}."
    assert await status_with(client_http, unsigned) == (401, "invalid_token")

    # HS256 "signed" with the server's public key: the classic confusion attack.
    jwk = runtime_of(client_http).token_keys.public_jwk
    assert jwk is not None
    public_bytes = base64.urlsafe_b64decode(jwk["x"] + "=")
    confused = jwt.encode(claims, public_bytes * 2, algorithm="HS256")
    assert await status_with(client_http, confused) == (401, "invalid_token")


async def test_a_token_missing_a_required_claim_is_refused(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    keys = runtime_of(client_http).token_keys
    assert keys.ed25519 is not None
    claims = jwt.decode(login.access_token, options={"verify_signature": False})
    del claims["sid"]
    token = jwt.encode(claims, keys.ed25519, algorithm="EdDSA")
    assert await status_with(client_http, token) == (401, "invalid_token")


async def test_jwks_publishes_the_verifying_key(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    keys = (await client_http.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "OKP"
    assert jwt.get_unverified_header(login.access_token)["kid"] == keys[0]["kid"]
    public = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(login.access_token, public, algorithms=["EdDSA"], audience="vaultapi")
    assert claims["sid"] == str(login.session_id)


async def test_hs256_by_setting(make_client: ClientFactory) -> None:
    async with make_client(auth={"jwt_algorithm": "HS256"}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(http, EMAIL, PASSWORD)
        assert jwt.get_unverified_header(login.access_token)["alg"] == "HS256"
        assert (await http.get("/v1/account", headers=login.auth_header)).status_code == 200
        assert (await http.get("/.well-known/jwks.json")).json() == {"keys": []}


# -- refresh, logout, sessions -------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_session(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    stolen = login.refresh_token
    await login.refresh(client_http)
    assert login.refresh_token != stolen
    assert await status_with(client_http, login.access_token) == (200, "")

    reuse = await client_http.post("/v1/auth/refresh", json={"refresh_token": stolen})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # the whole session is gone: the legitimate holder's tokens die too
    assert await status_with(client_http, login.access_token) == (401, "invalid_token")
    after = await client_http.post("/v1/auth/refresh", json={"refresh_token": login.refresh_token})
    assert after.json()["code"] == "invalid_refresh_token"


@pytest.mark.parametrize("token", ["vrt_" + "A" * 43, "vrt_short", "nope", "vrt_" + "é" * 43])
async def test_unknown_or_malformed_refresh_tokens_are_401(
    client_http: httpx.AsyncClient, token: str
) -> None:
    response = await client_http.post("/v1/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


async def test_logout_ends_the_session_at_once(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    await login.logout(client_http)
    assert await status_with(client_http, login.access_token) == (401, "invalid_token")
    refreshed = await client_http.post(
        "/v1/auth/refresh", json={"refresh_token": login.refresh_token}
    )
    assert refreshed.status_code == 401


async def test_list_and_revoke_sessions(client_http: httpx.AsyncClient, alice: Account) -> None:
    laptop = await client.login(client_http, EMAIL, PASSWORD, device_name="laptop")
    phone = await client.login(client_http, EMAIL, PASSWORD, device_name="phone")
    tablet = await client.login(client_http, EMAIL, PASSWORD, device_name="tablet")

    listed = (await client_http.get("/v1/account/sessions", headers=laptop.auth_header)).json()
    names = {s["device_name"]: s for s in listed["sessions"]}
    assert set(names) == {"laptop", "phone", "tablet"}
    assert names["laptop"]["current"] is True
    assert names["phone"]["current"] is False

    revoked = await client_http.delete(
        f"/v1/account/sessions/{phone.session_id}", headers=laptop.auth_header
    )
    assert revoked.status_code == 204
    assert await status_with(client_http, phone.access_token) == (401, "invalid_token")

    others = await client_http.post(
        "/v1/account/sessions/revoke-others", headers=laptop.auth_header
    )
    assert others.json() == {"revoked": 1}
    assert await status_with(client_http, tablet.access_token) == (401, "invalid_token")
    assert await status_with(client_http, laptop.access_token) == (200, "")


async def test_another_accounts_session_cannot_be_revoked(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    await client.register(client_http, "bob@example.com", "bob's password!!", kdf=MINIMUM_KDF)
    bob = await client.login(client_http, "bob@example.com", "bob's password!!")
    alice_login = await client.login(client_http, EMAIL, PASSWORD)
    response = await client_http.delete(
        f"/v1/account/sessions/{alice_login.session_id}", headers=bob.auth_header
    )
    assert response.status_code == 404
    assert await status_with(client_http, alice_login.access_token) == (200, "")
    unknown = await client_http.delete(
        f"/v1/account/sessions/{uuid.uuid4()}", headers=bob.auth_header
    )
    assert unknown.status_code == 404


async def test_sessions_are_capped_per_account(make_client: ClientFactory) -> None:
    async with make_client(auth={"max_sessions_per_account": 2}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        first = await client.login(http, EMAIL, PASSWORD, device_name="first")
        await client.login(http, EMAIL, PASSWORD, device_name="second")
        third = await client.login(http, EMAIL, PASSWORD, device_name="third")
        listed = (await http.get("/v1/account/sessions", headers=third.auth_header)).json()
        assert {s["device_name"] for s in listed["sessions"]} == {"second", "third"}
        assert await status_with(http, first.access_token) == (401, "invalid_token")


async def test_concurrent_logins_respect_the_session_cap(make_client: ClientFactory) -> None:
    """Six proofs verified at once, no more than the cap stay live: logins of
    one account finish one by one, under the account row lock that verify
    takes when it reads the account (and the identity's backoff counter lock)."""
    import asyncio

    from tests.api.conftest import srp_password_for, start_handshake, verify

    async with make_client(auth={"max_sessions_per_account": 2}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        password_p = await srp_password_for(http, EMAIL, PASSWORD)
        handshakes = [await start_handshake(http, EMAIL, password_p) for _ in range(6)]
        responses = await asyncio.gather(
            *(verify(http, h.handshake_id, h.proof.M1) for h in handshakes)
        )
        assert [r.status_code for r in responses] == [200] * 6
        live = 0
        for response in responses:
            token = response.json()["access_token"]
            live += (await status_with(http, token))[0] == 200
        assert live == 2
