"""Time-limited shares over HTTP: owner routes, anonymous opening, the 3-strike
lock, 410s that say nothing, the per-IP limit, the access log, no leaks."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto import share as share_crypto
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import Share, ShareAccess
from vaultapi.db.types import utcnow
from vaultapi.services.shares import share_state

SECRET = "correct-horse-battery-staple-\u2713"
PASSPHRASE = "open sesame"


def share_body(
    secret: str = SECRET, passphrase: str | None = None, **fields: Any
) -> tuple[dict[str, Any], bytes, share_crypto.ShareKeys]:
    """A share as a real client builds it; returns (body, share key, keys)."""
    share_id = uuid.uuid4()
    share_key = share_crypto.new_share_key()
    keys = share_crypto.derive_keys(share_key, passphrase)
    body: dict[str, Any] = {
        "id": str(share_id),
        "ciphertext": share_crypto.seal(keys, share_id, secret.encode()),
        "expires_in_minutes": 60,
        "max_views": 3,
    }
    if keys.access_proof is not None:
        body["access_proof"] = keys.access_proof.hex()
    body.update(fields)
    return body, share_key, keys


@pytest.fixture
async def owner(client_http: httpx.AsyncClient, alice: Account) -> dict[str, str]:
    login = await client.login(client_http, EMAIL, PASSWORD)
    return login.auth_header


async def create(http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await http.post("/v1/shares", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def open_share(
    http: httpx.AsyncClient, share_id: str, proof: bytes | None = None, **kwargs: Any
) -> httpx.Response:
    body = {} if proof is None else {"access_proof": proof.hex()}
    return await http.post(f"/v1/shares/{share_id}/open", json=body, **kwargs)


async def test_a_plain_share_opens_its_views_then_is_gone(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    body, _, keys = share_body(max_views=2)
    created = await create(client_http, owner, body)
    assert created["state"] == "active"
    assert created["protected"] is False
    assert (created["views_left"], created["max_views"]) == (2, 2)
    assert "ciphertext" not in created

    for left, request_body in ((1, {}), (0, None)):  # `{}` or no body at all
        opened = await client_http.post(f"/v1/shares/{body['id']}/open", json=request_body)
        assert opened.status_code == 200, opened.text
        assert opened.json()["views_left"] == left
        plaintext = share_crypto.unseal(keys, uuid.UUID(body["id"]), opened.json()["ciphertext"])
        assert plaintext.decode() == SECRET
    gone = await open_share(client_http, body["id"])
    assert gone.status_code == 410
    assert gone.json()["code"] == "share_gone"

    status = (await client_http.get(f"/v1/shares/{body['id']}", headers=owner)).json()
    assert (status["state"], status["views_used"], status["views_left"]) == ("used_up", 2, 0)
    async with runtime_of(client_http).sessionmaker() as session:
        row = await session.get(Share, uuid.UUID(body["id"]))
        assert row is not None
        assert row.ciphertext is None  # used up: the ciphertext is dropped at once


async def test_a_protected_share_needs_the_right_proof(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    body, _, keys = share_body(passphrase=PASSPHRASE)
    assert keys.access_proof is not None
    created = await create(client_http, owner, body)
    assert created["protected"] is True

    missing = await open_share(client_http, body["id"])
    assert missing.status_code == 401
    assert missing.json()["code"] == "access_proof_required"
    wrong = await open_share(client_http, body["id"], bytes(32))
    assert wrong.status_code == 403
    assert (wrong.json()["code"], wrong.json()["attempts_left"]) == ("invalid_access_proof", 2)
    opened = await open_share(client_http, body["id"], keys.access_proof)
    assert opened.status_code == 200
    assert share_crypto.unseal(keys, uuid.UUID(body["id"]), opened.json()["ciphertext"]) == (
        SECRET.encode()
    )
    status = (await client_http.get(f"/v1/shares/{body['id']}", headers=owner)).json()
    assert (status["failed_proofs"], status["views_used"]) == (1, 1)
    # The passphrase is not needed to decrypt without the link key, and the
    # server keeps only an Argon2 hash of the proof.
    async with runtime_of(client_http).sessionmaker() as session:
        row = await session.get(Share, uuid.UUID(body["id"]))
        assert row is not None
        assert row.proof_hash is not None
        assert row.proof_hash.startswith("$argon2id$")
        assert keys.access_proof.hex() not in row.proof_hash


async def test_three_wrong_proofs_lock_the_share_for_good(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    body, _, keys = share_body(passphrase=PASSPHRASE)
    assert keys.access_proof is not None
    await create(client_http, owner, body)
    answers = [await open_share(client_http, body["id"], bytes([n]) * 32) for n in range(3)]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert [a.json()["attempts_left"] for a in answers] == [2, 1, 0]
    right = await open_share(client_http, body["id"], keys.access_proof)
    assert right.status_code == 410
    assert right.json()["code"] == "share_gone"

    status = (await client_http.get(f"/v1/shares/{body['id']}", headers=owner)).json()
    assert status["state"] == "locked"
    assert status["failed_proofs"] == 3
    assert status["locked_at"] is not None
    assert status["views_left"] == 0
    log = (await client_http.get(f"/v1/shares/{body['id']}/access", headers=owner)).json()
    outcomes = [entry["outcome"] for entry in log["entries"]]
    assert outcomes == ["wrong_proof", "wrong_proof", "locked", "gone"]


async def test_max_failed_proofs_is_a_setting(make_client: ClientFactory) -> None:
    async with make_client(shares={"max_failed_proofs": 1}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        headers = (await client.login(http, EMAIL, PASSWORD)).auth_header
        body, _, keys = share_body(passphrase=PASSPHRASE)
        assert keys.access_proof is not None
        await create(http, headers, body)
        wrong = await open_share(http, body["id"], bytes(32))
        assert wrong.json()["attempts_left"] == 0
        assert (await open_share(http, body["id"], keys.access_proof)).status_code == 410


async def test_every_gone_share_answers_the_same(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    """Unknown, expired, used up, revoked and locked: the same 410, byte for byte
    (but for the share id in `instance`), whatever the secret's size."""
    short, _, _ = share_body(secret="x", max_views=1)
    long, _, _ = share_body(secret="y" * 5000)
    revoked, _, _ = share_body(secret="z" * 100)
    locked, _, _ = share_body(passphrase=PASSPHRASE)
    for body in (short, long, revoked, locked):
        await create(client_http, owner, body)
    assert (await open_share(client_http, short["id"])).status_code == 200
    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(
            update(Share)
            .where(Share.id == uuid.UUID(long["id"]))  # type: ignore[arg-type]
            .values(expires_at=utcnow() - timedelta(milliseconds=1))
        )
        await session.commit()
    assert (await client_http.delete(f"/v1/shares/{revoked['id']}", headers=owner)).is_success
    for _ in range(3):
        await open_share(client_http, locked["id"], bytes(32))

    headers = {"X-Request-ID": "same-request-id"}
    bodies = {}
    for name, share_id in (
        ("unknown", str(uuid.uuid4())),
        ("used up", short["id"]),
        ("expired", long["id"]),
        ("revoked", revoked["id"]),
        ("locked", locked["id"]),
    ):
        answer = await open_share(client_http, share_id, headers=headers)
        assert answer.status_code == 410, name
        assert answer.headers["content-type"] == "application/problem+json"
        bodies[name] = answer.content.replace(share_id.encode(), b"<id>")
    assert len(set(bodies.values())) == 1, bodies
    # A wrong proof on a gone share is not a strike, and says nothing more.
    again = await open_share(client_http, locked["id"], bytes(32), headers=headers)
    assert again.content.replace(locked["id"].encode(), b"<id>") == bodies["unknown"]


async def test_expiry_boundary() -> None:
    now = utcnow()
    share = Share(
        id=uuid.uuid4(), account_id=uuid.uuid4(), max_views=1, created_at=now, expires_at=now
    )
    assert share_state(share, now - timedelta(microseconds=1)) == "active"
    assert share_state(share, now) == "expired"
    assert share_state(share, now + timedelta(microseconds=1)) == "expired"


async def test_expiry_boundary_over_http(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    body, _, _ = share_body()
    created = await create(client_http, owner, body)
    lifetime = datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(
        created["created_at"]
    )
    assert lifetime == timedelta(minutes=60)

    async def expire_in(delta: timedelta) -> None:
        async with runtime_of(client_http).sessionmaker() as session:
            await session.execute(
                update(Share)
                .where(Share.id == uuid.UUID(body["id"]))  # type: ignore[arg-type]
                .values(expires_at=utcnow() + delta)
            )
            await session.commit()

    await expire_in(timedelta(seconds=5))
    assert (await open_share(client_http, body["id"])).status_code == 200
    await expire_in(timedelta(milliseconds=-1))
    assert (await open_share(client_http, body["id"])).status_code == 410
    status = (await client_http.get(f"/v1/shares/{body['id']}", headers=owner)).json()
    assert (status["state"], status["views_left"]) == ("expired", 0)


async def test_limits_are_settings(make_client: ClientFactory) -> None:
    shares = {"max_ttl_minutes": 10, "max_views": 2, "max_secret_chars": 256}
    shares["max_active_per_account"] = 2
    async with make_client(shares=shares) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        headers = (await client.login(http, EMAIL, PASSWORD)).auth_header

        async def post(body: dict[str, Any]) -> httpx.Response:
            return await http.post("/v1/shares", json=body, headers=headers)

        too_long = await post(share_body(expires_in_minutes=11)[0])
        assert (too_long.status_code, too_long.json()["code"]) == (400, "share_out_of_range")
        assert too_long.json()["max_ttl_minutes"] == 10
        too_many = await post(share_body(max_views=3)[0])
        assert (too_many.status_code, too_many.json()["code"]) == (400, "share_out_of_range")
        too_big = await post(share_body(secret="s" * 300)[0])
        assert (too_big.status_code, too_big.json()["code"]) == (400, "invalid_ciphertext")
        for bad in ({"expires_in_minutes": 0}, {"max_views": 0}, {"access_proof": "AB" * 32}):
            answer = await post({**share_body(max_views=1)[0], **bad})
            assert answer.status_code == 422, bad
        not_encstring = await post(share_body(ciphertext="v1.nope")[0])
        assert (not_encstring.status_code, not_encstring.json()["code"]) == (
            400,
            "invalid_ciphertext",
        )

        first, _, _ = share_body(expires_in_minutes=10, max_views=2)
        created = await post(first)
        assert created.status_code == 201, created.text
        duplicate = await post(first)
        assert (duplicate.status_code, duplicate.json()["code"]) == (409, "item_exists")
        assert (await post(share_body(max_views=1, expires_in_minutes=5)[0])).status_code == 201
        full = await post(share_body(max_views=1, expires_in_minutes=5)[0])
        assert (full.status_code, full.json()["code"]) == (409, "limit_reached")


async def test_owner_routes_authorization_matrix(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    body, _, _ = share_body()
    await create(client_http, owner, body)
    await client.register(client_http, "mallory@example.com", PASSWORD, kdf=MINIMUM_KDF)
    other = (await client.login(client_http, "mallory@example.com", PASSWORD)).auth_header
    share_id = body["id"]
    routes = [
        ("GET", f"/v1/shares/{share_id}"),
        ("GET", f"/v1/shares/{share_id}/access"),
        ("DELETE", f"/v1/shares/{share_id}"),
    ]
    anonymous_create = await client_http.post("/v1/shares", json=share_body()[0])
    assert anonymous_create.status_code == 401
    assert (await client_http.get("/v1/shares")).status_code == 401
    for method, path in routes:
        assert (await client_http.request(method, path)).status_code == 401, path
        forged = {"Authorization": "Bearer not-a-token"}
        assert (await client_http.request(method, path, headers=forged)).status_code == 401
        answer = await client_http.request(method, path, headers=other)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), path
    assert (await client_http.get("/v1/shares", headers=other)).json() == {"shares": []}
    assert (await client_http.get(f"/v1/shares/{share_id}", headers=owner)).json()["state"] == (
        "active"
    )
    listed = (await client_http.get("/v1/shares", headers=owner)).json()["shares"]
    assert [entry["id"] for entry in listed] == [share_id]
    revoked = await client_http.delete(f"/v1/shares/{share_id}", headers=owner)
    assert (revoked.status_code, revoked.json()["state"]) == (200, "revoked")
    again = await client_http.delete(f"/v1/shares/{share_id}", headers=owner)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert (await open_share(client_http, share_id)).status_code == 410


async def test_anonymous_retrieval_is_rate_limited_per_ip(make_client: ClientFactory) -> None:
    async with make_client(shares={"ip_opens_per_window": 2, "ip_window_seconds": 60}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        headers = (await client.login(http, EMAIL, PASSWORD)).auth_header
        body, _, _ = share_body(max_views=10)
        await create(http, headers, body)
        assert (await open_share(http, body["id"])).status_code == 200
        assert (await open_share(http, str(uuid.uuid4()))).status_code == 410
        blocked = await open_share(http, body["id"])
        assert blocked.status_code == 429
        assert blocked.json()["code"] == "too_many_attempts"
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        status = (await http.get(f"/v1/shares/{body['id']}", headers=headers)).json()
        assert status["views_used"] == 1  # the blocked attempt spent nothing
        log = (await http.get(f"/v1/shares/{body['id']}/access", headers=headers)).json()
        assert [e["outcome"] for e in log["entries"]] == ["opened", "rate_limited"]


async def test_every_access_is_recorded(
    client_http: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    body, _, keys = share_body(passphrase=PASSPHRASE, max_views=1)
    assert keys.access_proof is not None
    await create(client_http, owner, body)
    unknown = str(uuid.uuid4())
    await open_share(client_http, body["id"])
    await open_share(client_http, body["id"], bytes(32))
    await open_share(client_http, body["id"], keys.access_proof)
    await open_share(client_http, body["id"], keys.access_proof)
    await open_share(client_http, unknown)
    async with runtime_of(client_http).sessionmaker() as session:
        rows = (await session.execute(select(ShareAccess).order_by(ShareAccess.id))).scalars()  # type: ignore[arg-type]
        records = [(str(r.share_id), r.outcome, r.ip) for r in rows]
    ip = records[0][2]
    assert ip == "127.0.0.1"
    assert records == [
        (body["id"], "proof_required", ip),
        (body["id"], "wrong_proof", ip),
        (body["id"], "opened", ip),
        (body["id"], "gone", ip),
        (unknown, "gone", ip),
    ]


async def test_no_secret_material_in_logs_or_error_bodies(
    client_http: httpx.AsyncClient, owner: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body, share_key, keys = share_body(passphrase=PASSPHRASE, max_views=1)
    assert keys.access_proof is not None
    link = share_crypto.make_link(
        "http://testserver", uuid.UUID(body["id"]), share_key, protected=True
    )
    answers = [await client_http.post("/v1/shares", json=body, headers=owner)]
    answers.append(await client_http.post("/v1/shares", json=body, headers=owner))  # 409
    answers.append(await client_http.post("/v1/shares", json=body))  # 401
    bad = dict(body, id=str(uuid.uuid4()), expires_in_minutes=10**9)
    answers.append(await client_http.post("/v1/shares", json=bad, headers=owner))
    answers.append(
        await client_http.post("/v1/shares", json=dict(bad, access_proof="Z" * 64), headers=owner)
    )
    answers.append(await open_share(client_http, body["id"]))
    answers.append(await open_share(client_http, body["id"], bytes(32)))
    answers.append(
        await client_http.post(
            f"/v1/shares/{body['id']}/open", json={"access_proof": keys.access_proof.hex() + "0"}
        )
    )
    answers.append(await open_share(client_http, body["id"], keys.access_proof))
    answers.append(await open_share(client_http, body["id"], keys.access_proof))
    answers.append(await client_http.get(f"/v1/shares/{body['id']}/access", headers=owner))

    assert [a.status_code for a in answers] == [
        201,
        409,
        401,
        400,
        422,
        401,
        403,
        422,
        200,
        410,
        200,
    ]
    secrets_ = {
        "secret": SECRET,
        "passphrase": PASSPHRASE,
        "share key": share_key.hex(),
        "link key": link.split("#")[1],
        "link": link,
        "proof": keys.access_proof.hex(),
        "enc key": keys.enc_key.hex(),
        "ciphertext": body["ciphertext"],
        "ciphertext body": body["ciphertext"].split(".")[2],
    }
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    assert "share access" in logged  # the access lines are there, and in this capture
    errors = [a.text for a in answers if a.status_code >= 400]
    for name, value in secrets_.items():
        assert value not in logged, f"{name} in the log"
        for text in errors:
            assert value not in text, f"{name} in an error body"
