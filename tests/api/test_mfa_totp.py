"""TOTP and recovery codes: enrolment, the login's second step, and the attacks
on it (replay, another account's code, brute force, mfa_token replay and
expiry, skipping the second step)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

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
from tests.api.test_account_changes import age_sessions
from tests.conftest import ClientFactory
from tests.support.mfa import code, confirm_totp, enable_totp, in_one_step, pending_login
from vaultapi import client
from vaultapi.config import AbuseSettings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.crypto.tokens import mfa_token_hash
from vaultapi.db.models import AuthEvent, MFAChallenge, TOTPFactor
from vaultapi.db.types import utcnow
from vaultapi.services.abuse import AbuseGuard

BOB = "bob@example.com"


async def test_totp_enrolment_then_login_needs_the_code(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    started = await client_http.post("/v1/account/mfa/totp", headers=login.auth_header)
    assert started.status_code == 201
    enrolment = started.json()
    uri = urlparse(enrolment["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [enrolment["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["vaultapi"]

    # Not in force until confirmed: a login still gets tokens at once.
    status = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()
    assert status["methods"] == []
    assert status["totp"]["pending"] is True
    await client.login(client_http, EMAIL, PASSWORD)

    wrong = await client_http.post(
        "/v1/account/mfa/totp/confirm", json={"code": "000000"}, headers=login.auth_header
    )
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    confirmed = await confirm_totp(client_http, login, enrolment["secret"])
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10

    status = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()
    assert status["methods"] == ["totp", "recovery_code"]
    assert status["recovery_codes_left"] == 10

    # The proof alone yields no token: 202 with an mfa_token.
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    answer = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert answer.status_code == 202
    body = answer.json()
    assert set(body) == {
        "mfa_required",
        "mfa_token",
        "methods",
        "expires_in",
        "attempts_left",
        "M2",
    }
    assert body["methods"] == ["totp", "recovery_code"]
    assert body["attempts_left"] == 3

    pending = await pending_login(client_http, EMAIL, PASSWORD)
    finished = await pending.with_totp(client_http, code(enrolment["secret"]))
    assert finished.account_key == login.account_key
    assert (await client_http.get("/v1/account", headers=finished.auth_header)).status_code == 200


async def test_a_totp_code_is_accepted_once(client_http: httpx.AsyncClient, alice: Account) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    secret, _ = await enable_totp(client_http, login)
    now_code = code(secret)
    first = await pending_login(client_http, EMAIL, PASSWORD)
    await first.with_totp(client_http, now_code)

    for replay in (now_code, code(secret, steps=-1)):  # the same step, and an earlier one
        again = await pending_login(client_http, EMAIL, PASSWORD)
        with pytest.raises(client.ProblemError) as caught:
            await again.with_totp(client_http, replay)
        assert caught.value.status == 401
        assert caught.value.code == "invalid_second_factor"
        assert caught.value.body["attempts_left"] == 2


async def test_codes_outside_the_drift_window_are_refused(
    make_client: ClientFactory,
) -> None:
    async with make_client(mfa={"totp_drift_steps": 1}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(http, EMAIL, PASSWORD)
        secret, _ = await enable_totp(http, login)
        for steps in (-2, 2):  # just outside the window (-1 was spent confirming)

            async def outside(steps: int = steps) -> str:
                pending = await pending_login(http, EMAIL, PASSWORD)
                try:
                    await pending.with_totp(http, code(secret, steps=steps))
                except client.ProblemError as exc:
                    return exc.code
                return "accepted"

            refused = await in_one_step(outside, lambda code: code == "invalid_second_factor")
            assert refused == "invalid_second_factor"
        pending = await pending_login(http, EMAIL, PASSWORD)
        await pending.with_totp(http, code(secret, steps=1))  # the edge of the window


async def test_another_accounts_code_does_not_work(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    await client.register(client_http, BOB, PASSWORD, kdf=MINIMUM_KDF)
    alice_secret, _ = await enable_totp(
        client_http, await client.login(client_http, EMAIL, PASSWORD)
    )
    bob_secret, _ = await enable_totp(client_http, await client.login(client_http, BOB, PASSWORD))
    assert alice_secret != bob_secret
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    with pytest.raises(client.ProblemError) as caught:
        await pending.with_totp(client_http, code(bob_secret))
    assert caught.value.code == "invalid_second_factor"


async def test_the_mfa_token_dies_after_three_wrong_codes(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    secret, _ = await enable_totp(client_http, await client.login(client_http, EMAIL, PASSWORD))
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    left = []
    for wrong in ("000000", "111111", "222222"):
        with pytest.raises(client.ProblemError) as caught:
            await pending.with_totp(client_http, wrong if wrong != code(secret) else "333333")
        left.append(caught.value.body["attempts_left"])
    assert left == [2, 1, 0]
    with pytest.raises(client.ProblemError) as caught:
        await pending.with_totp(client_http, code(secret))  # right, but too late
    assert caught.value.code == "mfa_token_invalid"


async def test_the_mfa_token_is_single_use_and_expires(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    secret, codes = await enable_totp(client_http, await client.login(client_http, EMAIL, PASSWORD))
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    await pending.with_totp(client_http, code(secret))
    with pytest.raises(client.ProblemError) as caught:
        await pending.with_recovery_code(client_http, codes[0])  # replayed mfa_token
    assert caught.value.code == "mfa_token_invalid"

    late = await pending_login(client_http, EMAIL, PASSWORD)
    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(
            update(MFAChallenge).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    with pytest.raises(client.ProblemError) as caught:
        await late.with_recovery_code(client_http, codes[0])
    assert caught.value.code == "mfa_token_invalid"


async def test_the_second_step_cannot_be_skipped(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    secret, _ = await enable_totp(client_http, await client.login(client_http, EMAIL, PASSWORD))
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    token = pending.mfa_token
    as_bearer = await client_http.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    assert as_bearer.json()["code"] == "invalid_token"
    as_refresh = await client_http.post("/v1/auth/refresh", json={"refresh_token": token})
    assert as_refresh.status_code == 401
    assert as_refresh.json()["code"] == "invalid_refresh_token"
    for path in ("/v1/auth/mfa/totp", "/v1/auth/mfa/recovery-code"):
        forged = await client_http.post(
            path, json={"mfa_token": "vmt_" + "A" * 43, "code": "123456"}
        )
        assert forged.status_code == 401
        assert forged.json()["code"] == "mfa_token_invalid"
        junk = await client_http.post(path, json={"mfa_token": "junk", "code": "123456"})
        assert junk.status_code == 401
        assert junk.json()["code"] == "mfa_token_invalid"
    # The pending login still works: forged tokens cost it nothing.
    await pending.with_totp(client_http, code(secret))


async def test_recovery_codes_are_single_use_logged_and_replaceable(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    _, codes = await enable_totp(client_http, login)
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    await pending.with_recovery_code(client_http, codes[3].upper().replace("-", " "))

    again = await pending_login(client_http, EMAIL, PASSWORD)
    with pytest.raises(client.ProblemError) as caught:
        await again.with_recovery_code(client_http, codes[3])
    assert caught.value.code == "invalid_second_factor"
    status = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()
    assert status["recovery_codes_left"] == 9

    async with runtime_of(client_http).sessionmaker() as session:
        used = (
            (
                await session.execute(
                    select(col(AuthEvent.reason)).where(
                        col(AuthEvent.action) == "mfa_recovery_code_used"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert used == ["9_left"]

    fresh = await client_http.post("/v1/account/mfa/recovery-codes", headers=login.auth_header)
    assert fresh.status_code == 200
    new_codes = fresh.json()["recovery_codes"]
    assert not set(new_codes) & set(codes)
    with pytest.raises(client.ProblemError):
        await again.with_recovery_code(client_http, codes[0])  # the old set is gone
    last_try = await pending_login(client_http, EMAIL, PASSWORD)
    await last_try.with_recovery_code(client_http, new_codes[0])


async def test_changing_factors_needs_a_recent_proof(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    await enable_totp(client_http, login)
    await age_sessions(client_http, timedelta(minutes=6))
    for method, path in (
        ("DELETE", "/v1/account/mfa/totp"),
        ("POST", "/v1/account/mfa/totp"),
        ("POST", "/v1/account/mfa/recovery-codes"),
        ("POST", "/v1/account/mfa/webauthn/options"),
        ("DELETE", f"/v1/account/mfa/webauthn/{uuid.uuid4()}"),
    ):
        answer = await client_http.request(method, path, headers=login.auth_header)
        assert answer.status_code == 403, path
        assert answer.json()["code"] == "recent_auth_required"
    await client.reauthenticate(client_http, login, EMAIL, PASSWORD)  # password only
    assert (
        await client_http.delete("/v1/account/mfa/totp", headers=login.auth_header)
    ).status_code == 204
    status = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()
    assert status["methods"] == []
    assert status["recovery_codes_left"] == 0
    await client.login(client_http, EMAIL, PASSWORD)  # no second step any more


async def test_enrolment_states(client_http: httpx.AsyncClient, alice: Account) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    nothing = await client_http.post(
        "/v1/account/mfa/totp/confirm", json={"code": "123456"}, headers=login.auth_header
    )
    assert nothing.status_code == 409
    assert nothing.json()["code"] == "mfa_state_conflict"
    no_factor = await client_http.post("/v1/account/mfa/recovery-codes", headers=login.auth_header)
    assert no_factor.status_code == 409
    gone = await client_http.delete("/v1/account/mfa/totp", headers=login.auth_header)
    assert gone.status_code == 404
    await enable_totp(client_http, login)
    twice = await client_http.post("/v1/account/mfa/totp", headers=login.auth_header)
    assert twice.status_code == 409

    # A lapsed enrolment cannot be confirmed.
    await client_http.delete("/v1/account/mfa/totp", headers=login.auth_header)
    started = await client_http.post("/v1/account/mfa/totp", headers=login.auth_header)
    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(update(TOTPFactor).values(created_at=utcnow() - timedelta(hours=1)))
        await session.commit()
    lapsed = await client_http.post(
        "/v1/account/mfa/totp/confirm",
        json={"code": code(started.json()["secret"])},
        headers=login.auth_header,
    )
    assert lapsed.status_code == 409
    assert "lapsed" in lapsed.json()["detail"]


async def test_wrong_codes_feed_the_accounts_backoff(make_client: ClientFactory) -> None:
    """Wrong codes build the identity's streak; a correct password does not
    clear it (only a finished login does), and the second step itself checks
    the backoff before looking at a code."""
    abuse = {"account_free_failures": 4, "account_backoff_base_seconds": 60}
    async with make_client(abuse=abuse) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        secret, _ = await enable_totp(http, await client.login(http, EMAIL, PASSWORD))
        wrong = "000000" if code(secret) != "000000" else "000001"
        held = await pending_login(http, EMAIL, PASSWORD)  # opened before the streak
        outcomes = []
        for _ in range(4):
            pending = await pending_login(http, EMAIL, PASSWORD)
            try:
                await pending.with_totp(http, wrong)
            except client.ProblemError as exc:
                outcomes.append(exc.code)
        assert outcomes == ["invalid_second_factor"] * 4

        refused = await http.post(
            "/v1/auth/mfa/totp", json={"mfa_token": held.mfa_token, "code": code(secret)}
        )
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_attempts"
        assert int(refused.headers["Retry-After"]) > 0
        with pytest.raises(client.ProblemError) as caught:
            await client.login(http, EMAIL, PASSWORD)  # the password stage is held too
        assert caught.value.code == "too_many_attempts"

        async with runtime_of(http).sessionmaker() as session:
            failures = await session.scalar(
                select(col(MFAChallenge.failures)).where(
                    col(MFAChallenge.token_hash) == mfa_token_hash(held.mfa_token)
                )
            )
        assert failures == 0, "a refused attempt does not use up the mfa_token"


async def test_a_wrong_account_step_up_does_not_clear_the_streak(
    make_client: ClientFactory,
) -> None:
    """Someone with Alice's password and an account of their own must not be
    able to wipe Alice's backoff by proving her password with their token."""
    abuse = {"account_free_failures": 3, "account_backoff_base_seconds": 60}
    async with make_client(abuse=abuse) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        await client.register(http, BOB, PASSWORD, kdf=MINIMUM_KDF)
        secret, _ = await enable_totp(http, await client.login(http, EMAIL, PASSWORD))
        wrong = "000000" if code(secret) != "000000" else "000001"
        mallory = await client.login(http, BOB, PASSWORD)

        async def wrong_code() -> None:
            pending = await pending_login(http, EMAIL, PASSWORD)
            with pytest.raises(client.ProblemError):
                await pending.with_totp(http, wrong)

        await wrong_code()
        await wrong_code()  # streak 2 of 3 free
        with pytest.raises(client.ProblemError) as caught:
            await client.reauthenticate(http, mallory, EMAIL, PASSWORD)
        assert caught.value.code == "forbidden"
        await wrong_code()  # streak 3: the backoff starts — had it been reset, it would be 1
        with pytest.raises(client.ProblemError) as caught:
            await client.login(http, EMAIL, PASSWORD)
        assert caught.value.code == "too_many_attempts"


def test_brute_force_budget_per_hour() -> None:
    """How many TOTP guesses the default policy allows an attacker who knows
    the password, in the first hour and per hour after (docs/protocol.md
    quotes these numbers)."""
    guard = AbuseGuard(None, AbuseSettings(), b"k" * 32)  # type: ignore[arg-type]
    attempts, at, failures = 0, 0.0, 0
    while at < 3600:
        attempts += 1
        failures += 1
        at += guard.backoff(failures).total_seconds()
    steady = 3600 / guard.backoff(100).total_seconds()
    stated = f"at most **{attempts} guesses in the first hour and {steady:g} per hour after**"
    assert stated in (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    assert (attempts, steady) == (16, 4)


async def test_a_code_wins_once_across_two_workers(make_postgresql_client: ClientFactory) -> None:
    """Two app instances on one database; two pending logins race with one code."""
    async with make_postgresql_client() as one, make_postgresql_client() as two:
        await client.register(one, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        secret, _ = await enable_totp(one, await client.login(one, EMAIL, PASSWORD))
        first = await pending_login(one, EMAIL, PASSWORD)
        second = await pending_login(two, EMAIL, PASSWORD)
        results = await asyncio.gather(
            first.with_totp(one, code(secret)),
            second.with_totp(two, code(secret)),
            return_exceptions=True,
        )
        wins = [r for r in results if isinstance(r, client.Login)]
        losses = [r for r in results if isinstance(r, client.ProblemError)]
        assert len(wins) == 1
        assert len(losses) == 1
        assert losses[0].code == "invalid_second_factor"


async def test_no_fourth_guess_slips_through_concurrently(
    make_postgresql_client: ClientFactory,
) -> None:
    async with make_postgresql_client(abuse={"account_free_failures": 50}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        secret, _ = await enable_totp(http, await client.login(http, EMAIL, PASSWORD))
        pending = await pending_login(http, EMAIL, PASSWORD)
        wrong = "000000" if code(secret) != "000000" else "000001"
        results = await asyncio.gather(
            *(pending.with_totp(http, wrong) for _ in range(10)), return_exceptions=True
        )
        codes = sorted(r.code for r in results if isinstance(r, client.ProblemError))
        assert codes.count("invalid_second_factor") == 3
        assert codes.count("mfa_token_invalid") == 7
