"""No account enumeration; brute-force backoff per identity and limits per IP."""

from __future__ import annotations

import asyncio
import uuid
from typing import cast

import httpx
import pytest

from tests.api.conftest import (
    EMAIL,
    PASSWORD,
    Account,
    Handshake,
    runtime_of,
    srp_password_for,
    start_handshake,
    verify,
)
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.direct import Db
from vaultapi.db.models import RateLimitCounter, SRPHandshake
from vaultapi.services.abuse import AbuseGuard

UNKNOWN = "nobody@example.com"


def shape(value: object) -> object:
    """The structure of a JSON value with its scalars replaced by their types
    and string lengths: what an observer can compare without knowing secrets."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, str):
        return ("str", len(value))
    return type(value).__name__


async def test_prelogin_answers_unknown_emails_like_real_ones(
    client_http: httpx.AsyncClient, make_client: ClientFactory
) -> None:
    await client.register(client_http, EMAIL, PASSWORD)  # default KDF, like most users
    real = await client_http.post("/v1/auth/prelogin", json={"email": EMAIL})
    fake = await client_http.post("/v1/auth/prelogin", json={"email": UNKNOWN})
    again = await client_http.post("/v1/auth/prelogin", json={"email": UNKNOWN})
    other = await client_http.post("/v1/auth/prelogin", json={"email": "other@example.com"})
    assert real.status_code == fake.status_code == 200
    assert shape(real.json()) == shape(fake.json())
    assert {k: v for k, v in real.json()["kdf"].items() if k != "salt"} == {
        k: v for k, v in fake.json()["kdf"].items() if k != "salt"
    }
    assert fake.json() == again.json()  # deterministic: asking twice reveals nothing
    assert fake.json()["kdf"]["salt"] != other.json()["kdf"]["salt"]
    assert set(real.headers) == set(fake.headers)


async def test_srp_start_answers_unknown_emails_like_real_ones(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    start = srp.client_start()
    body = {"A": srp.encode_int(start.public_A)}
    real = await client_http.post("/v1/auth/srp/start", json={"email": EMAIL, **body})
    fake = await client_http.post("/v1/auth/srp/start", json={"email": UNKNOWN, **body})
    fake_again = await client_http.post("/v1/auth/srp/start", json={"email": UNKNOWN, **body})
    assert real.status_code == fake.status_code == 200
    assert shape(real.json()) == shape(fake.json())
    assert fake.json()["srp_salt"] == fake_again.json()["srp_salt"]
    assert fake.json()["B"] != fake_again.json()["B"]  # fresh ephemeral, like a real one
    for email, answer in ((EMAIL, real), (UNKNOWN, fake)):  # the same KDF answer as prelogin
        prelogin = await client_http.post("/v1/auth/prelogin", json={"email": email})
        assert answer.json()["kdf"] == prelogin.json()["kdf"]


async def test_an_unknown_email_fails_at_verify_exactly_like_a_wrong_password(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    wrong_p = await srp_password_for(client_http, EMAIL, "wrong password")
    fake_p = await srp_password_for(client_http, UNKNOWN, "any password")
    wrong = await start_handshake(client_http, EMAIL, wrong_p)
    fake = await start_handshake(client_http, UNKNOWN, fake_p)
    wrong_response = await verify(client_http, wrong.handshake_id, wrong.proof.M1)
    fake_response = await verify(client_http, fake.handshake_id, fake.proof.M1)
    assert wrong_response.status_code == fake_response.status_code == 401
    strip = ("request_id",)
    assert {k: v for k, v in wrong_response.json().items() if k not in strip} == {
        k: v for k, v in fake_response.json().items() if k not in strip
    }


async def test_registering_a_taken_email_is_a_409_that_changes_nothing(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    before = (await client_http.post("/v1/auth/prelogin", json={"email": EMAIL})).json()
    with pytest.raises(client.ProblemError) as caught:
        await client.register(client_http, " ALICE@example.com", "another password")
    assert caught.value.status == 409
    assert caught.value.code == "email_taken"
    after = (await client_http.post("/v1/auth/prelogin", json={"email": EMAIL})).json()
    assert before == after
    await client.login(client_http, EMAIL, PASSWORD)  # the original password still works


async def failed_logins(
    http: httpx.AsyncClient, email: str, count: int, **headers: str
) -> list[int]:
    statuses = []
    for _ in range(count):
        try:
            await client.login(http, email, "wrong password", device_name="x")
        except client.ProblemError as error:
            statuses.append(error.status)
        else:
            statuses.append(200)
    return statuses


@pytest.mark.parametrize("email", [EMAIL, UNKNOWN])
async def test_backoff_after_repeated_failures_for_real_and_unknown_emails(
    client_http: httpx.AsyncClient, alice: Account, email: str
) -> None:
    """Five free failures, then 429 with Retry-After — the same for an e-mail
    with no account, so the backoff cannot be used to find accounts."""
    assert await failed_logins(client_http, email, 5) == [401] * 5
    start = srp.client_start()
    blocked = await client_http.post(
        "/v1/auth/srp/start", json={"email": email, "A": srp.encode_int(start.public_A)}
    )
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert 1 <= int(blocked.headers["retry-after"]) <= 2


async def test_the_right_password_is_refused_during_backoff_and_works_after(
    make_client: ClientFactory,
) -> None:
    async with make_client(abuse={"account_backoff_base_seconds": 0.001}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        assert await failed_logins(http, EMAIL, 5) == [401] * 5
        login = await client.login(http, EMAIL, PASSWORD)  # backoff of 1 ms has passed
        assert login.access_token
        # a success clears the streak: five more free failures
        assert await failed_logins(http, EMAIL, 5) == [401] * 5


async def test_many_addresses_cannot_share_out_an_accounts_attempts(
    make_client: ClientFactory,
) -> None:
    """The backoff is per identity: rotating IPs (here through a trusted proxy's
    X-Forwarded-For) does not buy more guesses."""
    async with make_client(http={"trusted_proxies": ["127.0.0.0/8"]}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        statuses = []
        for n in range(7):
            http.headers["X-Forwarded-For"] = f"203.0.113.{n + 1}"
            statuses += await failed_logins(http, EMAIL, 1)
        assert statuses == [401] * 5 + [429] * 2


async def test_one_address_is_limited_across_many_accounts(make_client: ClientFactory) -> None:
    async with make_client(abuse={"ip_failures_per_window": 4}) as http:
        statuses = []
        for n in range(6):
            statuses += await failed_logins(http, f"user{n}@example.com", 1)
        assert statuses == [401] * 4 + [429] * 2


async def test_handshake_starts_are_limited_per_address(make_client: ClientFactory) -> None:
    async with make_client(abuse={"ip_handshakes_per_window": 3}) as http:
        body = {"email": UNKNOWN, "A": srp.encode_int(srp.client_start().public_A)}
        statuses = [
            (await http.post("/v1/auth/srp/start", json=body)).status_code for _ in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


async def test_starts_with_a_bad_a_count_and_are_refused_like_the_others(
    make_client: ClientFactory,
) -> None:
    """docs/protocol.md 7.3: the start is counted before A is checked, so bad
    values spend the address's starts too, and a refused address gets 429
    whatever A it sends."""
    async with make_client(abuse={"ip_handshakes_per_window": 3}) as http:
        bad = {"email": UNKNOWN, "A": "0" * 768}
        good = {"email": UNKNOWN, "A": srp.encode_int(srp.client_start().public_A)}
        statuses = [
            (await http.post("/v1/auth/srp/start", json=body)).status_code
            for body in (bad, bad, good, bad, good)
        ]
    assert statuses == [400, 400, 200, 429, 429]


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_client: ClientFactory,
) -> None:
    """Without trusted proxies, X-Forwarded-For is the attacker's own text: the
    limit still applies to the real peer address."""
    async with make_client(abuse={"ip_handshakes_per_window": 3}) as http:
        body = {"email": UNKNOWN, "A": srp.encode_int(srp.client_start().public_A)}
        statuses = []
        for n in range(5):
            spoof = {"X-Forwarded-For": f"198.51.100.{n}"}
            statuses.append(
                (await http.post("/v1/auth/srp/start", json=body, headers=spoof)).status_code
            )
    assert statuses == [200, 200, 200, 429, 429]


async def test_registrations_are_limited_per_address(make_client: ClientFactory) -> None:
    async with make_client(abuse={"ip_registrations_per_window": 2}) as http:
        statuses = []
        for n in range(3):
            try:
                await client.register(http, f"user{n}@example.com", PASSWORD, kdf=MINIMUM_KDF)
                statuses.append(201)
            except client.ProblemError as error:
                statuses.append(error.status)
    assert statuses == [201, 201, 429]


async def test_every_attempt_is_recorded(client_http: httpx.AsyncClient, alice: Account) -> None:
    from sqlalchemy import select

    from tests.api.conftest import runtime_of
    from vaultapi.db.models import AuthEvent

    await failed_logins(client_http, EMAIL, 1)
    await client.login(client_http, EMAIL, PASSWORD)
    await failed_logins(client_http, UNKNOWN, 1)
    async with runtime_of(client_http).sessionmaker() as session:
        events = (await session.execute(select(AuthEvent).order_by(AuthEvent.id))).scalars().all()  # type: ignore[arg-type]
    summary = [(e.action, e.outcome, e.reason, e.account_id is not None) for e in events]
    assert summary == [
        ("register", "success", "", True),
        ("srp_verify", "failure", "bad_proof", True),
        ("srp_verify", "success", "", True),
        ("srp_verify", "failure", "unknown_account", False),
    ]
    assert all(e.ip == "127.0.0.1" for e in events)


async def test_blocked_attempts_are_recorded(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    from sqlalchemy import select

    from tests.api.conftest import runtime_of
    from vaultapi.db.models import AuthEvent

    await failed_logins(client_http, EMAIL, 6)
    async with runtime_of(client_http).sessionmaker() as session:
        blocked = (
            (
                await session.execute(select(AuthEvent).where(AuthEvent.outcome == "blocked"))  # type: ignore[arg-type]
            )
            .scalars()
            .all()
        )
    assert [(e.action, e.reason) for e in blocked] == [("srp_start", "rate_limited")]


async def test_concurrent_guesses_cannot_outrun_the_backoff(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    """Twelve wrong proofs sent at once: the counters are locked per request,
    so only the five free failures are checked; the rest get 429."""
    wrong_p = await srp_password_for(client_http, EMAIL, "wrong password")
    handshakes = [await start_handshake(client_http, EMAIL, wrong_p) for _ in range(12)]
    responses = await asyncio.gather(
        *(verify(client_http, h.handshake_id, h.proof.M1) for h in handshakes)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 5 + [429] * 7


@pytest.mark.parametrize(
    "address", ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"]
)
def test_ipv6_addresses_share_their_64_block(address: str) -> None:
    from vaultapi.services.abuse import ip_bucket

    assert ip_bucket(address) == "2001:db8:1:2::/64"
    assert ip_bucket("::ffff:198.51.100.7") == "198.51.100.7"
    assert ip_bucket("198.51.100.7") == "198.51.100.7"


async def test_a_disabled_account_fails_like_a_wrong_password(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    from sqlalchemy import select, update
    from sqlmodel import col

    from tests.api.conftest import runtime_of
    from vaultapi.db.models import Account as AccountRow
    from vaultapi.db.models import AuthEvent

    runtime = runtime_of(client_http)
    async with runtime.sessionmaker() as session:
        await session.execute(update(AccountRow).values(status="disabled"))
        await session.commit()
    prelogin = (await client_http.post("/v1/auth/prelogin", json={"email": EMAIL})).json()
    with pytest.raises(client.ProblemError) as caught:
        await client.login(client_http, EMAIL, PASSWORD)  # the right password
    assert caught.value.code == "invalid_credentials"
    start = await client_http.post(
        "/v1/auth/srp/start",
        json={"email": EMAIL, "A": srp.encode_int(srp.client_start().public_A)},
    )
    assert start.json()["kdf"] == prelogin["kdf"]  # no difference between the two answers
    async with runtime.sessionmaker() as session:
        result = await session.execute(
            select(col(AuthEvent.reason)).where(col(AuthEvent.action) == "srp_verify")
        )
        reasons = list(result.scalars().all())
    assert reasons == ["account_disabled"]


def _identity_counter(http: httpx.AsyncClient, email: str) -> str:
    runtime = runtime_of(http)
    guard = AbuseGuard(cast(Db, None), runtime.settings.abuse, runtime.keys.server_secret)
    return guard.identity_key(email)


async def _streak(http: httpx.AsyncClient, email: str) -> int:
    async with runtime_of(http).sessionmaker() as session:
        counter = await session.get(RateLimitCounter, _identity_counter(http, email))
        return counter.count if counter is not None else 0


async def test_a_handshake_started_without_a_counter_key_is_verified_the_previous_way(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    """Handshakes started by a release before the counter key (a rolling
    upgrade) have none: verify then locks the counters and reads the account
    in statements of their own, with the same outcomes."""
    runtime = runtime_of(client_http)

    async def started_by_an_older_release(password: str) -> Handshake:
        handshake = await start_handshake(
            client_http, EMAIL, await srp_password_for(client_http, EMAIL, password)
        )
        async with runtime.sessionmaker() as session:
            stored = await session.get(SRPHandshake, uuid.UUID(handshake.handshake_id))
            assert stored is not None
            assert stored.counter_key == _identity_counter(client_http, EMAIL)
            stored.counter_key = None
            await session.commit()
        return handshake

    wrong = await started_by_an_older_release("wrong password")
    assert (await verify(client_http, wrong.handshake_id, wrong.proof.M1)).status_code == 401
    assert await _streak(client_http, EMAIL) == 1
    right = await started_by_an_older_release(PASSWORD)
    assert (await verify(client_http, right.handshake_id, right.proof.M1)).status_code == 200
    assert await _streak(client_http, EMAIL) == 0
