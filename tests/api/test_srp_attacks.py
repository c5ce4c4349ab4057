"""Adversarial SRP: bad values, replays, cross-session proofs, expiry, races."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import update

from tests.api.conftest import (
    EMAIL,
    PASSWORD,
    Account,
    runtime_of,
    srp_password_for,
    start_handshake,
    verify,
)
from vaultapi.crypto import srp
from vaultapi.db.models import SRPHandshake
from vaultapi.db.types import utcnow

N = srp.N


def _hex(value: int) -> str:
    return format(value, "x")


BAD_A = {
    "zero": "0" * 768,
    "one": srp.encode_int(1),
    "N-1": srp.encode_int(N - 1),
    "N": _hex(N).rjust(768, "0"),
    "N+1": _hex(N + 1).rjust(768, "0"),
    "2N": _hex(2 * N).rjust(768, "0"),
    "uppercase": srp.encode_int(0xABCDEF12345).upper(),
    "0x-prefix": "0x" + srp.encode_int(12345)[2:],
    "whitespace": " " + srp.encode_int(12345)[1:],
    "minus": "-" + srp.encode_int(12345)[1:],
    "not-hex": "g" * 768,
    "short": srp.encode_int(12345)[1:],
    "long": "0" + srp.encode_int(12345),
}


@pytest.mark.parametrize("name", list(BAD_A))
async def test_bad_public_values_are_refused_with_a_4xx(
    client_http: httpx.AsyncClient, alice: Account, name: str
) -> None:
    response = await client_http.post("/v1/auth/srp/start", json={"email": EMAIL, "A": BAD_A[name]})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in ("invalid_srp_value", "validation_failed")


async def test_a_huge_public_value_is_refused_before_it_is_read(
    client_http: httpx.AsyncClient,
) -> None:
    response = await client_http.post(
        "/v1/auth/srp/start", json={"email": EMAIL, "A": "1" * 5_000_000}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("field", ["A", "email"])
async def test_wrong_types_are_validation_problems(
    client_http: httpx.AsyncClient, field: str
) -> None:
    body: dict[str, object] = {"email": EMAIL, "A": srp.encode_int(12345)}
    body[field] = 12345
    response = await client_http.post("/v1/auth/srp/start", json=body)
    assert response.status_code == 422


async def test_a_proof_cannot_be_replayed(client_http: httpx.AsyncClient, alice: Account) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    first = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert first.status_code == 200
    replay = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert replay.status_code == 401
    assert replay.json()["code"] == "handshake_invalid"


async def test_a_proof_from_another_handshake_fails(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    one = await start_handshake(client_http, EMAIL, password_p)
    two = await start_handshake(client_http, EMAIL, password_p)
    crossed = await verify(client_http, two.handshake_id, one.proof.M1)
    assert crossed.status_code == 401
    assert crossed.json()["code"] == "invalid_credentials"


async def test_a_failed_proof_consumes_the_handshake(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    wrong = await verify(client_http, handshake.handshake_id, bytes(32))
    assert wrong.json()["code"] == "invalid_credentials"
    right_but_late = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert right_but_late.json()["code"] == "handshake_invalid"


async def test_an_expired_handshake_fails(client_http: httpx.AsyncClient, alice: Account) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    runtime = runtime_of(client_http)
    async with runtime.sessionmaker() as session:
        await session.execute(update(SRPHandshake).values(expires_at=utcnow()))
        await session.commit()
    response = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert response.status_code == 401
    assert response.json()["code"] == "handshake_invalid"


async def test_an_unknown_handshake_fails(client_http: httpx.AsyncClient) -> None:
    response = await verify(client_http, "00000000-0000-4000-8000-000000000000", bytes(32))
    assert response.json()["code"] == "handshake_invalid"


async def test_racing_verifies_of_one_handshake_log_in_once(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    responses = await asyncio.gather(
        *(verify(client_http, handshake.handshake_id, handshake.proof.M1) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 7


async def test_the_server_proves_it_knows_the_verifier(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    response = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    srp.verify_server_proof(handshake.proof, bytes.fromhex(response.json()["M2"]))


async def test_a_control_character_in_the_device_name_is_refused_and_consumes_nothing(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    handshake = await start_handshake(client_http, EMAIL, password_p)
    bad = await client_http.post(
        "/v1/auth/srp/verify",
        json={
            "handshake_id": handshake.handshake_id,
            "M1": handshake.proof.M1.hex(),
            "device_name": "x\u0000y",
        },
    )
    assert bad.status_code == 422
    good = await verify(client_http, handshake.handshake_id, handshake.proof.M1)
    assert good.status_code == 200
