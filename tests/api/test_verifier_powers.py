"""Powers of the verifier stored with the account (`vaultapi.crypto.comb`):
written with every verifier, used by every verify (the fake one's too), and
never what decides whether a login succeeds."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from tests.api.conftest import (
    EMAIL,
    PASSWORD,
    Account,
    runtime_of,
    srp_password_for,
    start_handshake,
    verify,
)
from vaultapi import client
from vaultapi.crypto import comb, srp
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import Account as AccountRow
from vaultapi.services.fakes import fake_account

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
async def test_unusable_powers_are_stored_again_at_the_first_attempt(
    client_http: httpx.AsyncClient,
    alice: Account,
    comb_calls: list[int],
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    """Powers missing (an account registered by an older worker during a
    rolling upgrade), of another verifier, or damaged: the first verify, even
    with a wrong password, stores the right ones and uses them, so that the
    account stops costing more than a fake after one attempt; the login
    works throughout."""
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
        assert await stored(client_http, EMAIL) == (verifier, powers)
        assert len(comb_calls) == 1

        await client.login(client_http, EMAIL, PASSWORD)
        assert len(comb_calls) == 2
    warnings = [r.getMessage() for r in caplog.records if "verifier powers" in r.getMessage()]
    assert warnings == [f"account {alice.account_id} has no usable verifier powers: stored now"]


@pytest.mark.parametrize(
    "damaged",
    [srp.N.to_bytes(srp.N_BYTES, "big"), b"\x01" * (srp.N_BYTES + 1)],
    ids=["N", "wider_than_N"],
)
async def test_a_verifier_damaged_after_the_start_is_refused_not_a_500(
    client_http: httpx.AsyncClient, alice: Account, damaged: bytes
) -> None:
    """A verifier that is not a group element (N itself; 385 bytes, which
    bytea allows) gets verify's wrong-password answer, as it did before the
    stored powers; the powers it kept are not used, and nothing is stored."""
    _, powers = await stored(client_http, EMAIL)
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(
            update(AccountRow).where(col(AccountRow.email) == EMAIL).values(srp_verifier=damaged)
        )
        await session.commit()
    response = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_credentials"
    assert await stored(client_http, EMAIL) == (damaged, powers)  # the old verifier's


@pytest.mark.parametrize(
    "damaged",
    [bytes(srp.N_BYTES), srp.N.to_bytes(srp.N_BYTES, "big"), b"\x01" * (srp.N_BYTES + 1)],
    ids=["zero", "N", "wider_than_N"],
)
async def test_a_verifier_damaged_before_the_start_answers_as_a_disabled_account(
    client_http: httpx.AsyncClient,
    alice: Account,
    damaged: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """srp/start cannot compute B from a stored verifier that is not a group
    element. It answers as for a disabled account (the real KDF parameters,
    the fake SRP values), not 500, which no fake ever answers; the login then
    fails as a wrong password does, and the error log names the account."""
    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(
            update(AccountRow).where(col(AccountRow.email) == EMAIL).values(srp_verifier=damaged)
        )
        await session.commit()
    with caplog.at_level(logging.WARNING, logger="vaultapi.services.auth"):
        start = await client_http.post(
            "/v1/auth/srp/start",
            json={"email": EMAIL, "A": srp.encode_int(srp.client_start().public_A)},
        )
        assert start.status_code == 200, start.text
        assert (
            start.json()["srp_salt"]
            == fake_account(runtime_of(client_http).keys.server_secret, EMAIL).srp_salt.hex()
        )
        with pytest.raises(client.ProblemError) as caught:
            await client.login(client_http, EMAIL, PASSWORD)
    assert caught.value.code == "invalid_credentials"
    logged = [(r.levelno, r.getMessage()) for r in caplog.records]
    damage = (
        logging.ERROR,
        f"account {alice.account_id} has a stored SRP verifier outside the group",
    )
    assert logged == [damage] * 3  # both starts, and the verify
