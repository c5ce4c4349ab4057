"""Second factors, shares and IP blocks across two real `vaultapi serve`
processes on one PostgreSQL database: every step's state is in the database,
so any process can take the next step (the steps listed in
test_two_processes.py's docstring)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.support.cluster import cluster, fresh_database
from tests.support.mfa import Authenticator, code, confirm_totp
from vaultapi import client
from vaultapi.client.shares import Share
from vaultapi.config import DatabaseSettings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.engine import create_engine

pytestmark = pytest.mark.slow

EMAIL = "alice@example.com"
PASSWORD = "correct horse battery staple"
ORIGIN = "http://localhost:8000"


@pytest.fixture
async def database(workdir: Path) -> AsyncIterator[str]:
    async with fresh_database(workdir) as url:
        yield url


async def pending_on(http: httpx.AsyncClient) -> client.PendingLogin:
    try:
        await client.login(http, EMAIL, PASSWORD)
    except client.SecondFactorRequired as required:
        return required.pending
    raise AssertionError("no second factor was asked for")


async def test_second_factors_split_across_processes(workdir: Path, database: str) -> None:
    with cluster(workdir, database) as deployment:
        async with deployment.http(0) as zero, deployment.http(1) as one:
            await client.register(zero, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            login = await client.login(zero, EMAIL, PASSWORD)

            # TOTP: enrol on 0, confirm on 1
            enrolment = (await zero.post("/v1/account/mfa/totp", headers=login.auth_header)).json()
            secret = enrolment["secret"]
            confirmed = await confirm_totp(one, login, secret)
            assert confirmed.status_code == 200, confirmed.text

            # WebAuthn: options from 0, attestation verified on 1
            key = Authenticator()
            ceremony = (
                await zero.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
            ).json()
            registered = await one.post(
                "/v1/account/mfa/webauthn",
                json={
                    "ceremony_id": ceremony["ceremony_id"],
                    "name": "key",
                    "credential": key.create(ceremony["options"], ORIGIN),
                },
                headers=login.auth_header,
            )
            assert registered.status_code == 201, registered.text

            # a login started on 0 finishes with TOTP on 1; the code replayed on 0 fails
            pending = await pending_on(zero)
            now_code = code(secret)
            await pending.with_totp(one, now_code)
            replay = await pending_on(one)
            with pytest.raises(client.ProblemError) as caught:
                await replay.with_totp(zero, now_code)
            assert caught.value.code == "invalid_second_factor"

            # WebAuthn login: options from 1, assertion verified on 0; the ceremony
            # is spent on both afterwards
            pending = await pending_on(one)
            ceremony_id, options = await pending.webauthn_options(one)
            assertion = key.get(options, ORIGIN)
            finished = await pending.with_webauthn(zero, ceremony_id, assertion)
            assert (await one.get("/v1/account", headers=finished.auth_header)).status_code == 200
            again = await pending_on(zero)
            with pytest.raises(client.ProblemError):
                await again.with_webauthn(one, ceremony_id, key.get(options, ORIGIN))


async def test_share_views_count_across_processes(workdir: Path, database: str) -> None:
    with cluster(workdir, database) as deployment:
        async with deployment.http(0) as zero, deployment.http(1) as one:
            await client.register(zero, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            login = await client.login(zero, EMAIL, PASSWORD)
            created = await Share.create(zero, login, "the wifi password", ttl=10, views=5)
            opened = await asyncio.gather(
                *(Share.open(created.link, http=(zero, one)[n % 2]) for n in range(12)),
                return_exceptions=True,
            )
    secrets = [result for result in opened if result == "the wifi password"]
    gone = [result for result in opened if isinstance(result, client.ProblemError)]
    assert len(secrets) == 5
    assert len(gone) == 7
    assert {error.status for error in gone} == {410}


async def test_an_ip_block_made_on_one_process_holds_on_the_other(
    workdir: Path, database: str
) -> None:
    with cluster(workdir, database) as deployment:
        async with deployment.http(0) as zero, deployment.http(1) as one:
            await client.register(zero, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            engine = create_engine(database, DatabaseSettings())
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE accounts SET role = 'admin' WHERE email = :email"),
                    {"email": EMAIL},
                )
            await engine.dispose()
            admin = await client.login(zero, EMAIL, PASSWORD)
            rule = await zero.post(
                "/v1/admin/ip-rules",
                json={"network": "127.0.0.1", "action": "block", "reason": "e2e"},
                headers=admin.auth_header,
            )
            assert rule.status_code == 201
            refused = await one.post("/v1/auth/prelogin", json={"email": EMAIL})
            assert refused.status_code == 403
            assert refused.json()["code"] == "ip_blocked"
            lifted = await one.delete(
                f"/v1/admin/ip-rules/{rule.json()['id']}", headers=admin.auth_header
            )
            assert lifted.status_code == 204
            admitted = await zero.post("/v1/auth/prelogin", json={"email": EMAIL})
            assert admitted.status_code == 200
