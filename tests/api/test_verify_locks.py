"""srp/verify on PostgreSQL: what its first statement locks, in which order,
and what a login decides when something changed while it waited.

The first statement takes the handshake, locks the identity's and the
address's brute-force counters, then the account's row
(`LoginAccounts.take_handshake`). Each test holds one of those rows in a
transaction of its own, lets a verify wait behind it, looks or changes
something meanwhile, and releases it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import cast

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.conftest import (
    EMAIL,
    PASSWORD,
    Account,
    Handshake,
    runtime_of,
    srp_password_for,
    start_handshake,
    verify,
    waiting,
)
from tests.api.test_admin import make_admin
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.direct import Db
from vaultapi.db.models import RateLimitCounter, SRPHandshake, TOTPFactor
from vaultapi.db.repositories.accounts import LoginAccounts
from vaultapi.db.repositories.ratelimits import RateLimitRepository
from vaultapi.db.types import utcnow
from vaultapi.services.abuse import AbuseGuard

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

CLIENT_IP = "127.0.0.1"  # httpx's ASGITransport


def _guard(http: httpx.AsyncClient) -> AbuseGuard:
    runtime = runtime_of(http)
    return AbuseGuard(cast(Db, None), runtime.settings.abuse, runtime.keys.server_secret)


@asynccontextmanager
async def holding_counter(http: httpx.AsyncClient, key: str) -> AsyncIterator[AsyncSession]:
    """A transaction that holds the counter `key` (created empty if missing)
    until the block ends, then rolls back."""
    sessionmaker = runtime_of(http).sessionmaker
    async with sessionmaker() as setup:
        await setup.execute(
            text(
                "INSERT INTO rate_limits (key, window_start, count, expires_at)"
                " VALUES (:key, now(), 0, now()) ON CONFLICT (key) DO NOTHING"
            ),
            {"key": key},
        )
        await setup.commit()
    async with sessionmaker() as holder:
        await holder.execute(
            text("SELECT key FROM rate_limits WHERE key = :key FOR UPDATE"), {"key": key}
        )
        try:
            yield holder
        finally:
            await holder.rollback()


async def _streak(http: httpx.AsyncClient) -> int:
    async with runtime_of(http).sessionmaker() as session:
        counter = await session.get(RateLimitCounter, _guard(http).identity_key(EMAIL))
        return counter.count if counter is not None else 0


async def is_locked(http: httpx.AsyncClient, sql: str, **params: object) -> bool:
    """Whether another transaction holds the row `sql` selects (FOR UPDATE NOWAIT)."""
    async with runtime_of(http).sessionmaker() as probe:
        try:
            await probe.execute(text(sql + " FOR UPDATE NOWAIT"), params)
        except DBAPIError as error:
            if "could not obtain lock" not in str(error):
                raise
            return True
        finally:
            await probe.rollback()
    return False


async def test_the_counters_are_locked_identity_first_then_the_account(
    backend: str, client_http: httpx.AsyncClient, alice: Account
) -> None:
    """Held at the address's counter, the verify already holds the identity's
    (byte order: "identity:…" < "ip-fail:…") and not yet the account's row."""
    handshake = await start_handshake(
        client_http, EMAIL, await srp_password_for(client_http, EMAIL, PASSWORD)
    )
    guard = _guard(client_http)
    async with runtime_of(client_http).sessionmaker() as session:  # a row to see locked
        now = utcnow()
        session.add(
            RateLimitCounter(
                key=guard.identity_key(EMAIL), window_start=now, count=0, expires_at=now
            )
        )
        await session.commit()
    counter = "SELECT key FROM rate_limits WHERE key = :key"
    async with holding_counter(client_http, guard.ip_key(CLIENT_IP)):
        pending = await waiting(
            client_http, verify(client_http, handshake.handshake_id, handshake.proof.M1)
        )
        assert await is_locked(client_http, counter, key=guard.identity_key(EMAIL))
        account_row = "SELECT id FROM accounts WHERE id = :id"
        assert not await is_locked(client_http, account_row, id=alice.account_id)
    assert (await pending).status_code == 200


async def test_a_second_factor_turned_on_while_a_login_waits_is_asked_for(
    backend: str, make_client: ClientFactory
) -> None:
    """The account is read in a statement whose snapshot predates its wait:
    a TOTP factor confirmed meanwhile must still stop the login at 202, and
    the finishing statement must write nothing (with a limit of one session,
    it would otherwise revoke the session already open)."""
    async with make_client(auth={"max_sessions_per_account": 1}) as http:
        registration = await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        account_id = uuid.UUID(str(registration.account_id))
        await client.login(http, EMAIL, PASSWORD)  # the one session allowed
        with pytest.raises(client.ProblemError):  # a streak, which only a finished login clears
            await client.login(http, EMAIL, "wrong password")
        runtime = runtime_of(http)
        key = _guard(http).identity_key(EMAIL)
        handshake = await start_handshake(
            http, EMAIL, await srp_password_for(http, EMAIL, PASSWORD)
        )
        before = await _written(http)
        async with holding_counter(http, key):
            pending = await waiting(http, verify(http, handshake.handshake_id, handshake.proof.M1))
            async with runtime.sessionmaker() as session:
                now = utcnow()
                session.add(
                    TOTPFactor(
                        account_id=account_id, sealed_secret="s", created_at=now, confirmed_at=now
                    )
                )
                await session.commit()
        response = await pending
        assert response.status_code == 202, response.text
        assert response.json()["methods"] == ["totp"]
        after = await _written(http)
        assert after == {**before, "srp_verify mfa_required": 1}
        assert await _streak(http) == 1


async def _written(http: httpx.AsyncClient) -> dict[str, int]:
    """What a login writes: live and revoked sessions, audit entries, and
    the authentication log's srp_verify entries by reason."""
    async with runtime_of(http).sessionmaker() as session:
        counts = {
            "live sessions": await session.scalar(
                text("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
            ),
            "revoked sessions": await session.scalar(
                text("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")
            ),
            "audit entries": await session.scalar(text("SELECT count(*) FROM audit_events")),
        }
        rows = await session.execute(
            text(
                "SELECT outcome, reason, count(*) FROM auth_events"
                " WHERE action = 'srp_verify' GROUP BY outcome, reason"
            )
        )
        counts.update({f"srp_verify {reason or outcome}": n for outcome, reason, n in rows})
    return {name: int(n or 0) for name, n in counts.items()}


async def test_a_second_factor_turned_off_while_a_login_waits_is_not_asked_for(
    backend: str, client_http: httpx.AsyncClient, alice: Account
) -> None:
    runtime = runtime_of(client_http)
    account_id = uuid.UUID(str(alice.account_id))
    async with runtime.sessionmaker() as session:
        now = utcnow()
        session.add(
            TOTPFactor(account_id=account_id, sealed_secret="s", created_at=now, confirmed_at=now)
        )
        await session.commit()
    handshake = await start_handshake(
        client_http, EMAIL, await srp_password_for(client_http, EMAIL, PASSWORD)
    )
    async with holding_counter(client_http, _guard(client_http).identity_key(EMAIL)):
        pending = await waiting(
            client_http, verify(client_http, handshake.handshake_id, handshake.proof.M1)
        )
        async with runtime.sessionmaker() as session:
            await session.execute(delete(TOTPFactor).where(TOTPFactor.account_id == account_id))  # type: ignore[arg-type]
            await session.commit()
    response = await pending
    assert response.status_code == 200, response.text
    assert "access_token" in response.json()


async def test_an_expired_handshake_locks_and_counts_nothing(
    backend: str, client_http: httpx.AsyncClient, alice: Account
) -> None:
    handshake: Handshake = await start_handshake(
        client_http, EMAIL, await srp_password_for(client_http, EMAIL, PASSWORD)
    )
    runtime = runtime_of(client_http)
    async with runtime.sessionmaker() as session:
        await session.execute(
            update(SRPHandshake).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
        before = await session.scalar(select(func.count()).select_from(RateLimitCounter))
    response = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert response.json()["code"] == "handshake_invalid"
    async with runtime.sessionmaker() as session:
        after = await session.scalar(select(func.count()).select_from(RateLimitCounter))
        assert await session.get(SRPHandshake, uuid.UUID(handshake.handshake_id)) is None
    assert after == before


async def test_verify_takes_locks_and_reads_in_one_statement_on_postgresql(
    backend: str, client_http: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The separate steps stay for SQLite and older handshakes only: on
    PostgreSQL a verify runs neither."""

    async def separate_step(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify ran a separate statement")

    monkeypatch.setattr(RateLimitRepository, "lock", separate_step)
    monkeypatch.setattr(LoginAccounts, "with_second_factors", separate_step)
    await client.login(client_http, EMAIL, PASSWORD)
    with pytest.raises(client.ProblemError) as caught:
        await client.login(client_http, EMAIL, "wrong password")
    assert caught.value.code == "invalid_credentials"
    assert await _streak(client_http) == 1


async def test_an_admin_reset_of_second_factors_waits_for_a_login_deciding(
    backend: str, client_http: httpx.AsyncClient, alice: Account
) -> None:
    """The admin's reset takes the account's row like the user's own factor
    changes, so it cannot slip between a login's read of the factors and its
    decision; it also ends logins waiting for a factor."""
    admin = await make_admin(client_http)
    account_row = "SELECT id FROM accounts WHERE id = :id FOR NO KEY UPDATE"  # as verify holds it
    async with runtime_of(client_http).sessionmaker() as login:
        await login.execute(text(account_row), {"id": alice.account_id})
        reset = await waiting(
            client_http,
            client_http.post(
                f"/v1/admin/accounts/{alice.account_id}/reset-second-factors",
                headers=admin.auth_header,
            ),
        )
        await login.rollback()
    assert (await reset).status_code == 204
