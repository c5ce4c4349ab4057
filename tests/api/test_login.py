"""Registration and login through the reference client, against the real app."""

from __future__ import annotations

import httpx
import pytest

from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF

EMAIL = "Alice@Example.com"
PASSWORD = "correct horse battery staple"


async def test_register_then_login_unwraps_the_account_key(client_http: httpx.AsyncClient) -> None:
    registration = await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    assert registration.email == "alice@example.com"
    login = await client.login(client_http, " ALICE@example.com ", PASSWORD, device_name="laptop")
    assert login.account_id == registration.account_id
    assert len(login.account_key) == 32
    me = await client_http.get("/v1/account", headers=login.auth_header)
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"


async def test_wrong_password_is_invalid_credentials(client_http: httpx.AsyncClient) -> None:
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    with pytest.raises(client.ProblemError) as caught:
        await client.login(client_http, EMAIL, "not the password")
    assert caught.value.status == 401
    assert caught.value.code == "invalid_credentials"
