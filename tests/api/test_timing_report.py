"""Timing of the real and the fake (unknown e-mail) paths, reported.

The fake paths do the same work as the real ones (same queries, same SRP
arithmetic), so their times should match up to noise. The medians are
printed in the test run's summary ("measurements"); the assertion is only a
loose guard against a path that skips work wholesale.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import EMAIL, PASSWORD
from tests.conftest import ClientFactory
from tests.support.reports import REPORT_LINES
from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF

UNKNOWN = "nobody@example.com"
SAMPLES = 40
MAX_RELATIVE_DIFFERENCE = 0.3


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> float:
    started = time.perf_counter()
    response = await call()
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 401), response.text
    return elapsed * 1000


async def test_real_and_fake_paths_take_the_same_time(
    make_client: ClientFactory, backend: str
) -> None:
    relaxed = {
        "account_free_failures": 100,
        "ip_failures_per_window": 100_000,
        "ip_handshakes_per_window": 100_000,
    }
    async with make_client(abuse=relaxed) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        times: dict[tuple[str, str], list[float]] = {}

        async def prelogin(email: str) -> httpx.Response:
            return await http.post("/v1/auth/prelogin", json={"email": email})

        async def start(email: str) -> httpx.Response:
            body = {"email": email, "A": srp.encode_int(srp.client_start().public_A)}
            return await http.post("/v1/auth/srp/start", json=body)

        async def failing_verify(email: str) -> httpx.Response:
            handshake = (await start(email)).json()["handshake_id"]
            return await http.post(
                "/v1/auth/srp/verify", json={"handshake_id": handshake, "M1": "00" * 32}
            )

        steps = {"prelogin": prelogin, "srp/start": start, "start + wrong verify": failing_verify}
        for round_ in range(SAMPLES + 5):
            for name, step in steps.items():
                for kind, email in (("real", EMAIL), ("fake", UNKNOWN)):
                    elapsed = await timed(functools.partial(step, email))
                    if round_ >= 5:  # warm-up rounds are not counted
                        times.setdefault((name, kind), []).append(elapsed)

    for name in steps:
        real = statistics.median(times[(name, "real")])
        fake = statistics.median(times[(name, "fake")])
        difference = abs(real - fake) / max(real, fake)
        REPORT_LINES.append(
            f"[{backend}] {name:20} median real {real:6.2f} ms, unknown e-mail {fake:6.2f} ms "
            f"({difference:5.1%} apart, {SAMPLES} samples each, in-process)"
        )
        assert difference < MAX_RELATIVE_DIFFERENCE, REPORT_LINES[-1]
