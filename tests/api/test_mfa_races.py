"""Single use under a real race, at the statement that enforces it: two
PostgreSQL transactions spend the same TOTP step, recovery code or WebAuthn
counter value; the second waits for the first's row lock and then finds the
condition false. (The API-level races in test_mfa_totp.py are serialized
earlier by the brute-force counters' lock; these do not depend on it.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import EMAIL, PASSWORD, runtime_of
from tests.conftest import ClientFactory
from tests.support.mfa import enable_totp
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import WebAuthnCredential
from vaultapi.db.repositories.mfa import MFARepository
from vaultapi.db.types import utcnow

Spend = Callable[[MFARepository], Awaitable[bool]]


async def race(http: httpx.AsyncClient, spend: Spend) -> list[bool]:
    """The first transaction spends and holds its lock; the second tries
    meanwhile (and must wait); then the first commits."""
    sessionmaker = runtime_of(http).sessionmaker
    async with sessionmaker() as first, sessionmaker() as second:
        won_first = await spend(MFARepository(first))

        async def contend() -> bool:
            return await spend(MFARepository(second))

        contender = asyncio.create_task(contend())
        await asyncio.sleep(0.3)
        assert not contender.done(), "the second transaction did not wait for the row lock"
        await first.commit()
        won_second = await contender
        await second.commit()
    return [won_first, won_second]


async def test_one_totp_step_one_winner(make_postgresql_client: ClientFactory) -> None:
    async with make_postgresql_client() as http:
        registration = await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        await enable_totp(http, await client.login(http, EMAIL, PASSWORD))
        step = 10**12  # later than anything used

        async def spend(repo: MFARepository) -> bool:
            return await repo.accept_totp_step(registration.account_id, step)

        assert await race(http, spend) == [True, False]


async def test_one_recovery_code_one_winner(make_postgresql_client: ClientFactory) -> None:
    async with make_postgresql_client() as http:
        registration = await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        await enable_totp(http, await client.login(http, EMAIL, PASSWORD))
        async with runtime_of(http).sessionmaker() as session:
            code_id, _ = (
                await MFARepository(session).unused_recovery_codes(registration.account_id)
            )[0]

        async def spend(repo: MFARepository) -> bool:
            return await repo.spend_recovery_code(registration.account_id, code_id, utcnow())

        assert await race(http, spend) == [True, False]


async def test_one_sign_count_one_winner(make_postgresql_client: ClientFactory) -> None:
    async with make_postgresql_client() as http:
        registration = await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        row_id = uuid.uuid4()
        async with runtime_of(http).sessionmaker() as session:
            added = await MFARepository(session).add_credential(
                WebAuthnCredential(
                    id=row_id,
                    account_id=registration.account_id,
                    credential_id=b"\x01" * 16,
                    public_key=b"\x02" * 77,
                    sign_count=4,
                    name="k",
                )
            )
            await session.commit()
        assert added

        async def spend(repo: MFARepository) -> bool:
            return await repo.advance_sign_count(row_id, 5, utcnow())

        assert await race(http, spend) == [True, False]
