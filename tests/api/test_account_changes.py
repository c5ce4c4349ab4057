"""Password change, e-mail change and deletion: recent authentication required."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from tests.api.test_registration import VALID
from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import Session
from vaultapi.db.types import utcnow

NEW_PASSWORD = "a much better passphrase"


async def age_sessions(http: httpx.AsyncClient, by: timedelta) -> None:
    async with runtime_of(http).sessionmaker() as session:
        await session.execute(update(Session).values(last_auth_at=utcnow() - by))
        await session.commit()


async def test_password_change_keeps_the_account_key_and_ends_other_sessions(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    laptop = await client.login(client_http, EMAIL, PASSWORD, device_name="laptop")
    phone = await client.login(client_http, EMAIL, PASSWORD, device_name="phone")
    ended = await client.change_password(
        client_http, laptop, EMAIL, PASSWORD, NEW_PASSWORD, kdf=MINIMUM_KDF
    )
    assert ended == 1
    assert (await client_http.get("/v1/account", headers=phone.auth_header)).status_code == 401
    assert (await client_http.get("/v1/account", headers=laptop.auth_header)).status_code == 200

    with pytest.raises(client.ProblemError) as caught:
        await client.login(client_http, EMAIL, PASSWORD)
    assert caught.value.code == "invalid_credentials"
    again = await client.login(client_http, EMAIL, NEW_PASSWORD)
    assert again.account_key == laptop.account_key  # items stay readable


async def test_sensitive_actions_need_a_recent_proof(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    await age_sessions(client_http, timedelta(minutes=6))
    srp_body = {"salt": "11" * 16, "verifier": srp.encode_int(123456789)}
    well_formed = {
        "/v1/account/password": {
            "kdf": {**VALID["kdf"]},
            "srp": srp_body,
            "protected_account_key": VALID["keys"]["protected_account_key"],
        },
        "/v1/account/email": {"email": "new@example.com", "srp": srp_body},
    }
    for path, body in well_formed.items():
        response = await client_http.post(path, json=body, headers=login.auth_header)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "recent_auth_required"
    delete = await client_http.delete("/v1/account", headers=login.auth_header)
    assert delete.status_code == 403
    assert delete.json()["max_age_seconds"] == 300

    await client.reauthenticate(client_http, login, EMAIL, PASSWORD)
    sessions = (await client_http.get("/v1/account/sessions", headers=login.auth_header)).json()
    assert len(sessions["sessions"]) == 1  # the step-up did not open a second session
    assert (await client_http.delete("/v1/account", headers=login.auth_header)).status_code == 204


async def test_step_up_with_a_wrong_password_changes_nothing(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    await age_sessions(client_http, timedelta(minutes=6))
    with pytest.raises(client.ProblemError):
        await client.reauthenticate(client_http, login, EMAIL, "wrong")
    delete = await client_http.delete("/v1/account", headers=login.auth_header)
    assert delete.json()["code"] == "recent_auth_required"


async def test_step_up_replaces_the_refresh_token(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    old_refresh = login.refresh_token
    await client.reauthenticate(client_http, login, EMAIL, PASSWORD)
    reuse = await client_http.post("/v1/auth/refresh", json={"refresh_token": old_refresh})
    assert reuse.json()["code"] == "refresh_token_reused"


async def test_step_up_with_another_accounts_token_is_refused(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    await client.register(client_http, "bob@example.com", "bob password!!", kdf=MINIMUM_KDF)
    bob = await client.login(client_http, "bob@example.com", "bob password!!")
    alice_login = await client.login(client_http, EMAIL, PASSWORD)
    alice_login.access_token = bob.access_token
    with pytest.raises(client.ProblemError) as caught:
        await client.reauthenticate(client_http, alice_login, EMAIL, PASSWORD)
    assert caught.value.status == 403


async def test_email_change_moves_the_login(client_http: httpx.AsyncClient, alice: Account) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    await client.change_email(client_http, login, EMAIL, "Alice.New@Example.com", PASSWORD)
    me = (await client_http.get("/v1/account", headers=login.auth_header)).json()
    assert me["email"] == "alice.new@example.com"
    moved = await client.login(client_http, "alice.new@example.com", PASSWORD)
    assert moved.account_key == login.account_key
    with pytest.raises(client.ProblemError):
        await client.login(client_http, EMAIL, PASSWORD)


async def test_email_change_to_a_taken_address_is_409(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    await client.register(client_http, "bob@example.com", "bob password!!", kdf=MINIMUM_KDF)
    login = await client.login(client_http, EMAIL, PASSWORD)
    with pytest.raises(client.ProblemError) as caught:
        await client.change_email(client_http, login, EMAIL, "BOB@example.com", PASSWORD)
    assert caught.value.status == 409
    assert caught.value.code == "email_taken"
    await client.login(client_http, EMAIL, PASSWORD)  # unchanged


async def test_deleting_the_account_ends_everything(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    other = await client.login(client_http, EMAIL, PASSWORD)
    await client.delete_account(client_http, login, EMAIL, PASSWORD)
    for session in (login, other):
        assert (
            await client_http.get("/v1/account", headers=session.auth_header)
        ).status_code == 401
    refresh = await client_http.post(
        "/v1/auth/refresh", json={"refresh_token": other.refresh_token}
    )
    assert refresh.status_code == 401
    with pytest.raises(client.ProblemError) as caught:
        await client.login(client_http, EMAIL, PASSWORD)
    assert caught.value.code == "invalid_credentials"
    await client.register(client_http, EMAIL, NEW_PASSWORD, kdf=MINIMUM_KDF)  # the address is free


async def test_a_refused_step_up_still_consumes_its_handshake(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    from tests.api.conftest import srp_password_for, start_handshake, verify

    await client.register(client_http, "bob@example.com", "bob password!!", kdf=MINIMUM_KDF)
    bob = await client.login(client_http, "bob@example.com", "bob password!!")
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    refused = await verify(
        client_http, handshake.handshake_id, handshake.proof.M1, headers=bob.auth_header
    )
    assert refused.status_code == 403
    replay = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert replay.json()["code"] == "handshake_invalid"


@pytest.mark.parametrize("token", ["logged-out", "garbage"])
async def test_a_step_up_with_a_dead_token_is_refused_and_leaves_the_handshake(
    client_http: httpx.AsyncClient, alice: Account, token: str
) -> None:
    """srp/verify checks a bearer token it is sent: a dead one is a 401, never
    an ordinary login instead, and the handshake stays usable (the token is
    checked before the handshake is taken)."""
    from tests.api.conftest import srp_password_for, start_handshake, verify

    login = await client.login(client_http, EMAIL, PASSWORD)
    if token == "logged-out":
        assert (
            await client_http.post("/v1/auth/logout", headers=login.auth_header)
        ).status_code == 204
        headers = login.auth_header
    else:
        headers = {"Authorization": "Bearer not.a.token"}
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    refused = await verify(client_http, handshake.handshake_id, handshake.proof.M1, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    assert refused.headers["content-type"].startswith("application/problem+json")
    accepted = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert accepted.status_code == 200
