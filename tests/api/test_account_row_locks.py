"""Writers of one account that meet on PostgreSQL, and must not deadlock.

The account's row is taken FOR NO KEY UPDATE by everything that serializes
on it (`AccountRepository.lock`: password change, factor changes, the
admin's reset, deletion; srp/verify and the second step likewise), so that
a writer of a row that refers to the account (a log entry, a session),
which takes KEY SHARE on it, never waits there. A session's row is taken
before its refresh tokens', by refresh as by a step-up.

Each test pauses one request inside its transaction (at a `Gate` before one
of its own steps, or behind a row the test holds), lets the other run into
it, and releases it. Every test here failed before with 503 (PostgreSQL's
deadlock detection aborting one of the two).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import text

from tests.api.conftest import EMAIL, PASSWORD, runtime_of, waiting
from tests.api.test_admin import make_admin
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.client import api as client_api
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.repositories import accounts as account_repository
from vaultapi.db.repositories.auth import SessionRepository
from vaultapi.services import account as account_service
from vaultapi.services import admin as admin_service
from vaultapi.services import audit
from vaultapi.services import sessions as session_service


class Gate:
    """`owner.name`, patched to stop until `open()`: the request calling it
    stays inside its transaction, holding what it wrote so far."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()
        original = getattr(owner, name)

        async def gated(*args: object, **kwargs: object) -> object:
            self.reached.set()
            await self.opened.wait()
            return await original(*args, **kwargs)

        monkeypatch.setattr(owner, name, gated)

    async def wait_for(self, work: asyncio.Future[httpx.Response]) -> None:
        """Until `work` stands at the gate."""
        await asyncio.wait_for(self.reached.wait(), timeout=30)
        assert not work.done(), (await work).text

    def open(self) -> None:
        self.opened.set()


async def _already_done(*args: object) -> None:
    """The client's step-up before a change, given earlier by the test."""


async def _status(work: Awaitable[object]) -> int:
    """A reference client call's outcome as a status code."""
    try:
        await work
    except client.ProblemError as exc:
        return exc.status
    return 200


@pytest.mark.parametrize("writer", ["logout", "revoke others", "admin logout"])
async def test_a_password_change_and_a_session_writer_both_finish(
    make_postgresql_client: ClientFactory, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """The writer has updated session rows and is about to log it (a row
    with a foreign key to the account); the password change holds the
    account's row and wants those sessions."""
    async with make_postgresql_client() as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        changing_device = await client.login(http, EMAIL, PASSWORD)
        other_device = await client.login(http, EMAIL, PASSWORD)
        await client.login(http, EMAIL, PASSWORD)  # a third, ended by both
        admin = await make_admin(http)
        await client.reauthenticate(http, changing_device, EMAIL, PASSWORD)
        monkeypatch.setattr(client_api, "reauthenticate", _already_done)
        writers: dict[str, tuple[object, str, Callable[[], Awaitable[httpx.Response]]]] = {
            "logout": (
                session_service.SessionService,
                "_event",
                lambda: http.post("/v1/auth/logout", headers=other_device.auth_header),
            ),
            "revoke others": (
                audit,
                "record",
                lambda: http.post(
                    "/v1/account/sessions/revoke-others", headers=other_device.auth_header
                ),
            ),
            "admin logout": (
                admin_service.AdminService,
                "_log",
                lambda: http.post(
                    f"/v1/admin/accounts/{changing_device.account_id}/logout",
                    headers=admin.auth_header,
                ),
            ),
        }
        owner, step, request = writers[writer]
        gate = Gate(monkeypatch, owner, step)
        writing = asyncio.ensure_future(request())
        await gate.wait_for(writing)
        try:
            change = client.change_password(
                http, changing_device, EMAIL, PASSWORD, "a new passphrase", kdf=MINIMUM_KDF
            )
            changing = await waiting(http, _status(change))
        finally:
            gate.open()
        written, changed = await writing, await changing
        assert written.status_code in (200, 204), written.text
        assert changed == 200


async def test_two_deletions_of_one_account_do_not_deadlock(
    make_postgresql_client: ClientFactory,
) -> None:
    """Both wait behind a log writer's KEY SHARE on the account; the second
    finds the account gone and answers as the first did."""
    async with make_postgresql_client() as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        devices = [await client.login(http, EMAIL, PASSWORD) for _ in range(2)]
        account = devices[0].account_id
        async with runtime_of(http).sessionmaker() as log_writer:
            await log_writer.execute(
                text("SELECT id FROM accounts WHERE id = :id FOR KEY SHARE"), {"id": account}
            )
            first = await waiting(http, http.delete("/v1/account", headers=devices[0].auth_header))
            second = await waiting(
                http, http.delete("/v1/account", headers=devices[1].auth_header), waiters=2
            )
            await log_writer.rollback()
        answers = [(await first).status_code, (await second).status_code]
        assert answers == [204, 204]
        async with runtime_of(http).sessionmaker() as session:
            assert await session.scalar(text("SELECT count(*) FROM accounts")) == 0


async def test_a_refresh_and_a_step_up_of_one_session_both_finish(
    make_postgresql_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh has rotated its token and is about to touch the session;
    the step-up updates the session and then retires its refresh tokens."""
    async with make_postgresql_client() as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(http, EMAIL, PASSWORD)
        gate = Gate(monkeypatch, SessionRepository, "touch")
        refreshing = asyncio.ensure_future(
            http.post("/v1/auth/refresh", json={"refresh_token": login.refresh_token})
        )
        await gate.wait_for(refreshing)
        try:
            stepping = await waiting(
                http, _status(client.reauthenticate(http, login, EMAIL, PASSWORD))
            )
        finally:
            gate.open()
        refreshed, stepped = await refreshing, await stepping
        assert refreshed.status_code == 200, refreshed.text
        assert stepped == 200


async def _deleting_at_its_log_row(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, device: client.Login
) -> tuple[Gate, asyncio.Future[httpx.Response]]:
    """The user's own deletion, stopped holding the account's row, before it
    writes its log row and deletes."""
    gate = Gate(monkeypatch, account_service.AccountService, "_event")
    deleting = asyncio.ensure_future(http.delete("/v1/account", headers=device.auth_header))
    await gate.wait_for(deleting)
    return gate, deleting


async def test_a_deletion_and_a_logout_of_another_device_both_finish(
    make_postgresql_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The logout has ended its session and is about to log it (KEY SHARE on
    the account); the deletion deletes the sessions before the account."""
    async with make_postgresql_client() as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        device, other = [await client.login(http, EMAIL, PASSWORD) for _ in range(2)]
        gate = Gate(monkeypatch, session_service.SessionService, "_event")
        logging_out = asyncio.ensure_future(http.post("/v1/auth/logout", headers=other.auth_header))
        await gate.wait_for(logging_out)
        try:
            deleting = await waiting(http, http.delete("/v1/account", headers=device.auth_header))
        finally:
            gate.open()
        logged_out, deleted = await logging_out, await deleting
        assert logged_out.status_code == 204, logged_out.text
        assert deleted.status_code == 204, deleted.text


async def test_an_admin_deletion_and_the_users_own_both_finish(
    make_postgresql_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin's deletion holds the row and is about to delete; the user's
    waits for the row, then finds the account gone."""
    async with make_postgresql_client() as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        device = await client.login(http, EMAIL, PASSWORD)
        admin = await make_admin(http)
        gate = Gate(monkeypatch, account_repository.AccountRepository, "delete")
        by_admin = asyncio.ensure_future(
            http.delete(f"/v1/admin/accounts/{device.account_id}", headers=admin.auth_header)
        )
        await gate.wait_for(by_admin)
        try:
            own = await waiting(http, http.delete("/v1/account", headers=device.auth_header))
        finally:
            gate.open()
        assert (await by_admin).status_code == 204
        assert (await own).status_code == 204


async def test_changes_that_waited_for_a_deletion_answer_that_the_account_is_gone(
    make_postgresql_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password change ends with 401 (its session went with the account),
    an admin's change with 404: not a 500 from a write referring to it."""
    async with make_postgresql_client() as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        device, other = [await client.login(http, EMAIL, PASSWORD) for _ in range(2)]
        admin = await make_admin(http)
        monkeypatch.setattr(client_api, "reauthenticate", _already_done)
        gate, deleting = await _deleting_at_its_log_row(http, monkeypatch, device)
        try:
            change = client.change_password(
                http, other, EMAIL, PASSWORD, "a new passphrase", kdf=MINIMUM_KDF
            )
            changing = await waiting(http, _status(change))
            disabling = await waiting(
                http,
                http.post(
                    f"/v1/admin/accounts/{device.account_id}/disable", headers=admin.auth_header
                ),
                waiters=2,
            )
        finally:
            gate.open()
        assert (await deleting).status_code == 204
        assert await changing == 401
        disabled = await disabling
        assert disabled.status_code == 404, disabled.text
        assert disabled.json()["code"] == "not_found"
