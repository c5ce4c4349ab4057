"""The login's second step on PostgreSQL: which rows it locks, in which order.

Every transaction that takes more than one of these rows takes them in one
order: the brute-force counters, then the account's row, then its pending
logins. srp/verify locks counters, then the account, and opens a pending
login under it; a factor change, the admin's reset and account deletion lock
the account, then delete its pending logins. The second step locks the
counters, then the account, then its pending login (`SecondStep`). It used to
lock its pending login first and meet the account's row last (a session's
foreign key), so a factor change meanwhile deadlocked with it, and PostgreSQL
failed one of the two with 503 after a second.

Each test holds a row in a transaction of its own so that a second step waits
behind it, looks or changes something meanwhile, and releases it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.api.conftest import EMAIL, PASSWORD, runtime_of, waiting
from tests.api.test_admin import make_admin
from tests.api.test_verify_locks import _guard, holding_counter, is_locked
from tests.conftest import ClientFactory
from tests.support.mfa import code, enable_totp, pending_login
from vaultapi import client
from vaultapi.client import api as client_api
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.types import utcnow
from vaultapi.services.maintenance import Purged, purge_expired

Change = Callable[[httpx.AsyncClient, client.Login], Awaitable[int]]
"""A change to the account, through the API: its status code."""

ACCOUNT_ROW = "SELECT id FROM accounts WHERE id = :id"
PENDING_LOGINS = "SELECT token_hash FROM mfa_challenges WHERE account_id = :id"


async def _turn_totp_off(http: httpx.AsyncClient, login: client.Login) -> int:
    return (await http.delete("/v1/account/mfa/totp", headers=login.auth_header)).status_code


async def _delete_account(http: httpx.AsyncClient, login: client.Login) -> int:
    return (await http.delete("/v1/account", headers=login.auth_header)).status_code


async def _change_password(http: httpx.AsyncClient, login: client.Login) -> int:
    """The reference client's password change, whose fresh proof (a verify,
    which would wait at the held counter too) the test gave beforehand."""
    try:
        await client.change_password(
            http, login, EMAIL, PASSWORD, "a new passphrase", kdf=MINIMUM_KDF
        )
    except client.ProblemError as exc:
        return exc.status
    return 200


def _admin_reset(admin: client.Login) -> Change:
    async def reset(http: httpx.AsyncClient, login: client.Login) -> int:
        response = await http.post(
            f"/v1/admin/accounts/{login.account_id}/reset-second-factors",
            headers=admin.auth_header,
        )
        return response.status_code

    return reset


async def _already_done(*args: object) -> None:
    """The client's step-up before a change, given earlier by the test."""


async def _with_totp(http: httpx.AsyncClient, mfa_token: str, secret: str) -> httpx.Response:
    return await http.post("/v1/auth/mfa/totp", json={"mfa_token": mfa_token, "code": code(secret)})


async def _alice_with_totp(http: httpx.AsyncClient) -> tuple[client.Login, str]:
    """Alice, a session of hers with a fresh proof, and her TOTP secret."""
    await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    login = await client.login(http, EMAIL, PASSWORD)
    secret, _ = await enable_totp(http, login)
    return login, secret


async def _ready_to_race(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> tuple[client.Login, str, dict[str, Change], client.PendingLogin]:
    """Alice with TOTP; her session, with a fresh proof (so that the client's
    own step-up before a password change is skipped: it would wait at a
    held counter too); the changes by name; and a login waiting for its
    second factor."""
    login, secret = await _alice_with_totp(http)
    changes: dict[str, Change] = {
        "turn TOTP off": _turn_totp_off,
        "admin reset": _admin_reset(await make_admin(http)),
        "delete the account": _delete_account,
        "change the password": _change_password,
    }
    await client.reauthenticate(http, login, EMAIL, PASSWORD)
    monkeypatch.setattr(client_api, "reauthenticate", _already_done)
    return login, secret, changes, await pending_login(http, EMAIL, PASSWORD)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ("turn TOTP off", 204),
        ("admin reset", 204),
        ("delete the account", 204),
        ("change the password", 200),
    ],
)
async def test_a_change_while_a_second_step_waits_is_not_a_deadlock(
    make_postgresql_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    status: int,
) -> None:
    """The second step waits at the counters holding nothing of the account:
    the change goes through at once, and the second step then finds its
    pending login gone. Neither answers 503."""
    async with make_postgresql_client() as http:
        login, secret, changes, pending = await _ready_to_race(http, monkeypatch)
        async with holding_counter(http, _guard(http).identity_key(EMAIL)):
            second_step = await waiting(http, _with_totp(http, pending.mfa_token, secret))
            changing = asyncio.ensure_future(changes[change](http, login))
            # Taken the other way round, the change would wait for the second
            # step's pending login, and the second step (released below) for
            # the change's account row: a deadlock.
            done, _ = await asyncio.wait({changing}, timeout=5)
            assert changing in done, "the change waited for the second step"
        changed, finished = await changing, await second_step
        assert changed == status
        assert finished.status_code == 401, finished.text
        assert finished.json()["code"] == "mfa_token_invalid"


async def test_waiting_at_the_counters_the_second_step_holds_no_row_of_the_account(
    make_postgresql_client: ClientFactory,
) -> None:
    async with make_postgresql_client() as http:
        login, secret = await _alice_with_totp(http)
        pending = await pending_login(http, EMAIL, PASSWORD)
        async with holding_counter(http, _guard(http).identity_key(EMAIL)):
            second_step = await waiting(http, _with_totp(http, pending.mfa_token, secret))
            assert not await is_locked(http, ACCOUNT_ROW, id=login.account_id)
            assert not await is_locked(http, PENDING_LOGINS, id=login.account_id)
        finished = await second_step
        assert finished.status_code == 200, finished.text


async def test_waiting_at_the_account_the_second_step_holds_the_counters_not_its_login(
    make_postgresql_client: ClientFactory,
) -> None:
    """The account's row held as a verify holds it (FOR NO KEY UPDATE)."""
    async with make_postgresql_client() as http:
        login, secret = await _alice_with_totp(http)
        pending = await pending_login(http, EMAIL, PASSWORD)
        counter = "SELECT key FROM rate_limits WHERE key = :key"
        async with runtime_of(http).sessionmaker() as verifying:
            await verifying.execute(
                text(ACCOUNT_ROW + " FOR NO KEY UPDATE"), {"id": login.account_id}
            )
            second_step = await waiting(http, _with_totp(http, pending.mfa_token, secret))
            assert await is_locked(http, counter, key=_guard(http).identity_key(EMAIL))
            assert not await is_locked(http, PENDING_LOGINS, id=login.account_id)
            await verifying.rollback()
        finished = await second_step
        assert finished.status_code == 200, finished.text


async def test_security_key_options_lock_the_account_before_the_pending_login(
    make_postgresql_client: ClientFactory,
) -> None:
    """Asking for WebAuthn options writes a ceremony under the pending login
    without touching the counters; it too takes the account's row first."""
    async with make_postgresql_client() as http:
        login, _ = await _alice_with_totp(http)
        pending = await pending_login(http, EMAIL, PASSWORD)
        async with runtime_of(http).sessionmaker() as verifying:
            await verifying.execute(
                text(ACCOUNT_ROW + " FOR NO KEY UPDATE"), {"id": login.account_id}
            )
            options = await waiting(
                http,
                http.post("/v1/auth/mfa/webauthn/options", json={"mfa_token": pending.mfa_token}),
            )
            assert not await is_locked(http, PENDING_LOGINS, id=login.account_id)
            await verifying.rollback()
        answered: Any = await options
        assert answered.status_code == 409, answered.text  # no security key on this account
        assert answered.json()["code"] == "mfa_state_conflict"


@pytest.mark.parametrize(
    ("change", "status", "session_survives"),
    [
        ("turn TOTP off", 204, True),
        ("admin reset", 204, True),
        ("delete the account", 204, False),
        ("change the password", 200, False),
    ],
)
async def test_a_change_waits_for_a_second_step_holding_the_account(
    make_postgresql_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    status: int,
    session_survives: bool,
) -> None:
    """Held at its pending login, the second step holds the account's row: a
    change waits for it, then applies to what it finished. A password change
    ends the session it opened, as every other session, instead of leaving a
    session proven with the old password."""
    async with make_postgresql_client() as http:
        login, secret, changes, pending = await _ready_to_race(http, monkeypatch)
        async with runtime_of(http).sessionmaker() as holder:
            await holder.execute(text(PENDING_LOGINS + " FOR UPDATE"), {"id": login.account_id})
            second_step = await waiting(http, _with_totp(http, pending.mfa_token, secret))
            changing = await waiting(http, changes[change](http, login), waiters=2)
            await holder.rollback()
        finished, changed = await second_step, await changing
        assert finished.status_code == 200, finished.text
        assert changed == status
        opened = {"Authorization": f"Bearer {finished.json()['access_token']}"}
        account = await http.get("/v1/account", headers=opened)
        assert account.status_code == (200 if session_survives else 401), account.text


@pytest.mark.parametrize("case", ["the login expires meanwhile", "the purge's clock is ahead"])
async def test_the_purge_and_a_second_step_waiting_for_its_account(
    make_postgresql_client: ClientFactory, case: str
) -> None:
    """The second step holds its counters (count 0: expired) and waits for
    its account; the purge takes its pending login for expired, because the
    login did expire meanwhile, or because the purge's clock is ahead
    (another worker's). Deleting expired counters before expired pending
    logins, the purge waits for the second step instead of holding what it
    wants; and the second step judges expiry after its waits."""
    expires = case == "the login expires meanwhile"
    async with make_postgresql_client() as http:
        login, secret = await _alice_with_totp(http)
        pending = await pending_login(http, EMAIL, PASSWORD)
        sessionmaker = runtime_of(http).sessionmaker
        if expires:
            async with sessionmaker() as setup:
                await setup.execute(
                    text("UPDATE mfa_challenges SET expires_at = now() + interval '1 second'")
                )
                await setup.commit()
        async with sessionmaker() as verifying:
            await verifying.execute(
                text(ACCOUNT_ROW + " FOR NO KEY UPDATE"), {"id": login.account_id}
            )
            second_step = await waiting(http, _with_totp(http, pending.mfa_token, secret))
            if expires:
                await asyncio.sleep(1.2)

            async def purge() -> Purged:
                async with sessionmaker() as session:
                    at = utcnow() if expires else utcnow() + timedelta(hours=1)
                    purged = await purge_expired(session, at)
                    await session.commit()
                    return purged

            purging = await waiting(http, purge(), waiters=2)
            await verifying.rollback()
        finished, purged = await second_step, await purging
        if expires:
            assert finished.status_code == 401, finished.text
            assert finished.json()["code"] == "mfa_token_invalid"
            assert purged.second_factor == 1
        else:
            assert finished.status_code == 200, finished.text
            assert purged.second_factor == 0  # used before the purge got to it
