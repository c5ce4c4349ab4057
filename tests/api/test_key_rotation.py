"""Rotating the JWT signing key without logging everyone out: tokens name their
key by `kid`; the previous key stays accepted until its tokens expire."""

from __future__ import annotations

import secrets
import subprocess

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from tests.api.conftest import EMAIL, PASSWORD
from tests.conftest import ClientFactory
from tests.support.servers import clean_environment, vaultapi_command
from vaultapi import client
from vaultapi.config import AuthSettings, Environment, Settings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.crypto.tokens import TokenKeys, verify_access_token
from vaultapi.server_keys import explicit_secret_problems, private_pem, public_pem


def production_settings() -> Settings:
    return Settings(env=Environment.PRODUCTION, database_url=SecretStr("postgresql://db/x"))


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


async def account_status(http: httpx.AsyncClient, token: str) -> tuple[int, str]:
    response = await http.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("code", "")


async def test_tokens_of_the_previous_key_still_verify_after_rotation(
    make_client: ClientFactory,
) -> None:
    old, new = new_key(), new_key()
    old_kid = TokenKeys("EdDSA", ed25519=old).kid
    new_kid = TokenKeys("EdDSA", ed25519=new).kid
    async with make_client(auth={"jwt_private_key": private_pem(old)}) as before:
        await client.register(before, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(before, EMAIL, PASSWORD)
        assert jwt.get_unverified_header(login.access_token)["kid"] == old_kid

        rotated = {
            "jwt_private_key": private_pem(new),
            "jwt_accepted_public_keys": [public_pem(old.public_key())],
        }
        async with make_client(auth=rotated) as after:
            assert await account_status(after, login.access_token) == (200, "")
            fresh = await client.login(after, EMAIL, PASSWORD)
            assert jwt.get_unverified_header(fresh.access_token)["kid"] == new_kid
            published = (await after.get("/.well-known/jwks.json")).json()["keys"]
            assert [key["kid"] for key in published] == [new_kid, old_kid]
            # refresh on the rotated server: the session goes on under the new key
            await login.refresh(after)
            assert jwt.get_unverified_header(login.access_token)["kid"] == new_kid

            async with make_client(auth={"jwt_private_key": private_pem(new)}) as later:
                old_token = await client.login(before, EMAIL, PASSWORD)
                assert await account_status(later, old_token.access_token) == (
                    401,
                    "invalid_token",
                )
                assert await account_status(later, fresh.access_token) == (200, "")


async def test_an_unknown_kid_is_refused_even_with_a_valid_signature(
    make_client: ClientFactory,
) -> None:
    key = new_key()
    async with make_client(auth={"jwt_private_key": private_pem(key)}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(http, EMAIL, PASSWORD)
        claims = jwt.decode(login.access_token, options={"verify_signature": False})
        for kid in ("unknown", ""):
            forged = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})
            assert await account_status(http, forged) == (401, "invalid_token")


async def test_hs256_previous_secrets_are_accepted_by_kid(make_client: ClientFactory) -> None:
    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    async with make_client(auth={"jwt_algorithm": "HS256", "jwt_secret": old}) as before:
        await client.register(before, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(before, EMAIL, PASSWORD)
        rotated = {"jwt_algorithm": "HS256", "jwt_secret": new, "jwt_accepted_secrets": [old]}
        async with make_client(auth=rotated) as after:
            assert await account_status(after, login.access_token) == (200, "")
            assert (await after.get("/.well-known/jwks.json")).json() == {"keys": []}
        async with make_client(auth={"jwt_algorithm": "HS256", "jwt_secret": new}) as later:
            assert await account_status(later, login.access_token) == (401, "invalid_token")


def test_malformed_accepted_keys_are_configuration_problems() -> None:
    auth = AuthSettings(
        jwt_accepted_public_keys=["not a key", private_pem(new_key())],
        jwt_accepted_secrets=[SecretStr("short")],
    )
    problems = " ".join(explicit_secret_problems(auth, require_all=False))
    assert "JWT_ACCEPTED_PUBLIC_KEYS[0] is not an Ed25519 public key" in problems
    assert "JWT_ACCEPTED_PUBLIC_KEYS[1] is not an Ed25519 public key" in problems  # private!
    assert "JWT_ACCEPTED_SECRETS[0] is shorter than 32 bytes" in problems


@pytest.mark.parametrize("algorithm", ["EdDSA", "HS256"])
def test_keygen_rotate_prints_settings_that_accept_the_old_tokens(
    workdir: object, algorithm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid
    from datetime import timedelta

    from vaultapi.crypto.tokens import issue_access_token
    from vaultapi.db.types import utcnow
    from vaultapi.runtime import token_keys_from
    from vaultapi.server_keys import load_server_keys

    current = (
        {"VAULTAPI_AUTH__JWT_PRIVATE_KEY": private_pem(new_key())}
        if algorithm == "EdDSA"
        else {"VAULTAPI_AUTH__JWT_SECRET": secrets.token_urlsafe(48)}
    )
    env = {"VAULTAPI_AUTH__JWT_ALGORITHM": algorithm, **current}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAULTAPI_AUTH__SERVER_SECRET", secrets.token_urlsafe(48))
    old_keys = token_keys_from(load_server_keys(production_settings()))
    token, _ = issue_access_token(
        old_keys,
        account_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        role="user",
        issuer="vaultapi",
        audience="vaultapi",
        ttl=timedelta(minutes=5),
        now=utcnow(),
    )

    result = subprocess.run(
        vaultapi_command("keygen", "--rotate"),
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stays accepted" in result.stderr
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value.strip("'\""))
    new_keys = token_keys_from(load_server_keys(production_settings()))
    assert new_keys.kid != old_keys.kid
    assert set(new_keys.verification_keys()) == {new_keys.kid, old_keys.kid}
    claims = verify_access_token(new_keys, token, issuer="vaultapi", audience="vaultapi")
    assert claims.role == "user"


def test_keygen_rotate_without_a_current_key_says_so(workdir: object) -> None:
    result = subprocess.run(
        vaultapi_command("keygen", "--rotate"),
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "nothing to rotate" in " ".join(result.stderr.split())
