"""Registration refuses anything malformed, weak or out of range with a 4xx."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from vaultapi.crypto import encstring, srp

VALID: dict[str, Any] = {
    "email": "carol@example.com",
    "kdf": {
        "algorithm": "argon2id",
        "memory_kib": 65536,
        "iterations": 3,
        "parallelism": 4,
        "salt": "00" * 16,
    },
    "srp": {"salt": "11" * 16, "verifier": srp.encode_int(123456789)},
    "keys": {
        "protected_account_key": encstring.encrypt(bytes(32), bytes(32), "vaultapi/v1/account-key"),
        "public_key": "A" * 43,
        "protected_private_key": encstring.encrypt(bytes(32), bytes(32), "vaultapi/v1/private-key"),
    },
}


def variant(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    *parents, leaf = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is ...:
        del target[leaf]
    else:
        target[leaf] = value
    return body


async def test_the_valid_body_registers(client_http: httpx.AsyncClient) -> None:
    response = await client_http.post("/v1/auth/register", json=VALID)
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "carol@example.com"


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("kdf.memory_kib", 19455, "kdf_parameters_out_of_range"),
        ("kdf.iterations", 1, "kdf_parameters_out_of_range"),
        ("kdf.parallelism", 0, "kdf_parameters_out_of_range"),
        ("kdf.memory_kib", 10**9, "kdf_parameters_out_of_range"),
        ("kdf.algorithm", "pbkdf2", "validation_failed"),
        ("kdf.salt", "00" * 15, "validation_failed"),
        ("srp.salt", "ZZ" * 16, "validation_failed"),
        ("srp.verifier", srp.encode_int(0), "invalid_srp_value"),
        ("srp.verifier", srp.encode_int(1), "invalid_srp_value"),
        ("srp.verifier", "f" * 768, "invalid_srp_value"),
        ("srp.verifier", "0x" + "1" * 766, "invalid_srp_value"),
        ("keys.protected_account_key", "v2." + "A" * 60, "invalid_key_material"),
        ("keys.protected_account_key", "v1.AAAA.AAAA" + "A" * 40, "invalid_key_material"),
        (
            "keys.protected_private_key",
            "v1.not base64 at all!!.xxxxxxxxxxxxxxxxxxxxxxxxxx",
            "invalid_key_material",
        ),
        ("keys.public_key", "A" * 42, "validation_failed"),
        ("email", "not-an-email", "bad_request"),
        ("email", ..., "validation_failed"),
        ("keys", ..., "validation_failed"),
        ("unexpected", "field", "validation_failed"),
    ],
)
async def test_bad_registrations_get_the_documented_4xx(
    client_http: httpx.AsyncClient, path: str, value: Any, code: str
) -> None:
    response = await client_http.post("/v1/auth/register", json=variant(path, value))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] == code
    count = await client_http.post("/v1/auth/prelogin", json={"email": "carol@example.com"})
    assert count.status_code == 200  # and nothing was created: see the next test


async def test_a_refused_registration_creates_nothing(client_http: httpx.AsyncClient) -> None:
    bad = variant("srp.verifier", srp.encode_int(1))
    assert (await client_http.post("/v1/auth/register", json=bad)).status_code == 400
    assert (await client_http.post("/v1/auth/register", json=VALID)).status_code == 201


@pytest.mark.parametrize(
    "email", ["a\u0000@x.com", "a\u0007@x.com", "a@x.com\u007f", "a\u0085@x.com"]
)
@pytest.mark.parametrize("path", ["/v1/auth/prelogin", "/v1/auth/srp/start", "/v1/auth/register"])
async def test_control_characters_in_an_email_are_a_4xx_everywhere(
    client_http: httpx.AsyncClient, email: str, path: str
) -> None:
    body: dict[str, Any] = {"email": email}
    if path.endswith("start"):
        body["A"] = srp.encode_int(12345)
    elif path.endswith("register"):
        body = variant("email", email)
    response = await client_http.post(path, json=body)
    assert response.status_code in (400, 422), response.text
