"""Powers of the verifier stored with the account (`vaultapi.crypto.comb`):
written with every verifier, used by every verify (the fake one's too), and
never what decides whether a login succeeds."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of, start_handshake, verify
from vaultapi import client
from vaultapi.crypto import comb, srp
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import Account as AccountRow

NEW_PASSWORD = "a much better passphrase"


async def stored(http: httpx.AsyncClient, email: str) -> tuple[bytes, bytes | None]:
    async with runtime_of(http).sessionmaker() as session:
        row = (
            await session.execute(
                select(col(AccountRow.srp_verifier), col(AccountRow.srp_verifier_powers)).where(
                    col(AccountRow.email) == email
                )
            )
        ).one()
    return row[0], row[1]


async def store_powers(http: httpx.AsyncClient, email: str, powers: bytes | None) -> None:
    async with runtime_of(http).sessionmaker() as session:
        await session.execute(
            update(AccountRow)
            .where(col(AccountRow.email) == email)
            .values(srp_verifier_powers=powers)
        )
        await session.commit()


def powers_of(verifier: bytes) -> bytes:
    return srp.verifier_powers(int.from_bytes(verifier, "big"))


async def test_registration_stores_the_verifiers_powers(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    verifier, powers = await stored(client_http, EMAIL)
    assert powers == powers_of(verifier)


async def test_password_and_email_changes_store_the_new_verifiers_powers(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    first, _ = await stored(client_http, EMAIL)
    login = await client.login(client_http, EMAIL, PASSWORD)
    await client.change_password(client_http, login, EMAIL, PASSWORD, NEW_PASSWORD, kdf=MINIMUM_KDF)
    second, powers = await stored(client_http, EMAIL)
    assert second != first
    assert powers == powers_of(second)

    await client.change_email(client_http, login, EMAIL, "alice.new@example.com", NEW_PASSWORD)
    third, powers = await stored(client_http, "alice.new@example.com")
    assert third != second
    assert powers == powers_of(third)
    await client.login(client_http, "alice.new@example.com", NEW_PASSWORD)


@pytest.fixture
def comb_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The exponents that verify hands to a comb (the real one, counted)."""
    calls: list[int] = []
    power = comb.Comb.power

    def counting(self: comb.Comb, exponent: int) -> object:
        calls.append(exponent)
        return power(self, exponent)

    monkeypatch.setattr(comb.Comb, "power", counting)
    return calls


async def test_a_login_takes_v_to_the_u_from_the_stored_powers(
    client_http: httpx.AsyncClient, alice: Account, comb_calls: list[int]
) -> None:
    await client.login(client_http, EMAIL, PASSWORD)
    assert len(comb_calls) == 1


async def test_an_unknown_email_costs_the_same_comb_work(
    client_http: httpx.AsyncClient, comb_calls: list[int]
) -> None:
    """The fake verifier has stored powers too: a verify for an unknown
    e-mail does what a real account's does (timing, `test_timing_report`)."""
    handshake = await start_handshake(client_http, "nobody@example.com", "ab" * 32)
    response = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert response.status_code == 401
    assert len(comb_calls) == 1


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize("damage", ["missing", "another_verifiers", "damaged"])
async def test_a_login_without_usable_powers_succeeds_and_stores_them(
    client_http: httpx.AsyncClient,
    alice: Account,
    comb_calls: list[int],
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    """Powers missing (an account registered by an older worker during a
    rolling upgrade), of another verifier, or damaged: the login works all
    the same (v^u by powmod), says so in the log, and stores the right ones."""
    verifier, powers = await stored(client_http, EMAIL)
    assert powers is not None
    replacement = {
        "missing": None,
        "another_verifiers": srp.verifier_powers(int.from_bytes(verifier, "big") + 1),
        "damaged": _flip_last_byte(powers),
    }[damage]
    await store_powers(client_http, EMAIL, replacement)
    with caplog.at_level(logging.WARNING, logger="vaultapi.services.auth"):
        with pytest.raises(client.ProblemError) as caught:
            await client.login(client_http, EMAIL, "not the password")
        assert caught.value.code == "invalid_credentials"
        assert await stored(client_http, EMAIL) == (verifier, replacement)  # not on a failure
        assert comb_calls == []  # v^u by powmod

        await client.login(client_http, EMAIL, PASSWORD)
        assert await stored(client_http, EMAIL) == (verifier, powers)
        assert comb_calls == []

        await client.login(client_http, EMAIL, PASSWORD)  # now with the comb
        assert len(comb_calls) == 1
    warnings = [r.getMessage() for r in caplog.records if "verifier powers" in r.getMessage()]
    assert (
        warnings == [f"account {alice.account_id} has no usable verifier powers: v^u by powmod"] * 2
    )
