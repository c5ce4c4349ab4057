"""The reference client refuses a hostile server.

The "server" here is an httpx MockTransport playing a malicious or broken
server: it stands in for the other side of the wire, not for our own code.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF

EMAIL = "alice@example.com"


def hostile(handler: Callable[[str, dict[str, object]], dict[str, object]]) -> httpx.AsyncClient:
    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        return httpx.Response(200, json=handler(request.url.path, body))

    return httpx.AsyncClient(transport=httpx.MockTransport(respond), base_url="http://evil")


def kdf(memory_kib: int, iterations: int, parallelism: int) -> dict[str, object]:
    return {
        "kdf": {
            "algorithm": "argon2id",
            "memory_kib": memory_kib,
            "iterations": iterations,
            "parallelism": parallelism,
            "salt": "00" * 16,
        }
    }


@pytest.mark.parametrize(
    "params",
    [(1024, 3, 4), (65536, 1, 4), (65536, 3, 0), (10**9, 3, 4)],
)
async def test_the_client_refuses_kdf_parameters_out_of_range(
    params: tuple[int, int, int],
) -> None:
    async with hostile(lambda path, body: kdf(*params)) as http:
        with pytest.raises(client.ClientError, match="unacceptable KDF"):
            await client.login(http, EMAIL, "password")


async def test_the_client_refuses_a_server_whose_m2_does_not_verify() -> None:
    def server(path: str, body: dict[str, object]) -> dict[str, object]:
        if path.endswith("prelogin"):
            return kdf(MINIMUM_KDF.memory_kib, MINIMUM_KDF.iterations, MINIMUM_KDF.parallelism)
        if path.endswith("start"):
            # a server that does not know the verifier can only make B up
            b = srp.server_challenge(srp.compute_verifier(EMAIL, "guess", bytes(16)))
            return {
                **kdf(MINIMUM_KDF.memory_kib, MINIMUM_KDF.iterations, MINIMUM_KDF.parallelism),
                "handshake_id": "00000000-0000-4000-8000-000000000000",
                "srp_salt": "00" * 16,
                "B": srp.encode_int(b.public_B),
                "expires_in": 60,
            }
        return {"M2": "ab" * 32, "keys": {}, "account_id": "x", "session_id": "y"}

    async with hostile(server) as http:
        with pytest.raises(client.ServerProofError):
            await client.login(http, EMAIL, "password")


@pytest.mark.parametrize("bad_b", ["0" * 768, srp.encode_int(1), "f" * 768])
async def test_the_client_refuses_an_invalid_b(bad_b: str) -> None:
    def server(path: str, body: dict[str, object]) -> dict[str, object]:
        if path.endswith("prelogin"):
            return kdf(MINIMUM_KDF.memory_kib, MINIMUM_KDF.iterations, MINIMUM_KDF.parallelism)
        return {
            **kdf(MINIMUM_KDF.memory_kib, MINIMUM_KDF.iterations, MINIMUM_KDF.parallelism),
            "handshake_id": "x",
            "srp_salt": "00" * 16,
            "B": bad_b,
            "expires_in": 60,
        }

    async with hostile(server) as http:
        with pytest.raises(client.ClientError, match="invalid SRP challenge"):
            await client.login(http, EMAIL, "password")


async def test_the_client_refuses_weak_kdf_when_registering() -> None:
    from vaultapi.crypto import CryptoError
    from vaultapi.crypto.kdf import KdfParams

    async with hostile(lambda path, body: {}) as http:
        with pytest.raises(CryptoError):
            await client.register(http, EMAIL, "pw", kdf=KdfParams(1024, 1, 1))
