"""`/metrics`: off by default, token-protected, and counting what matters."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import EMAIL, PASSWORD
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.config import Environment, MetricsSettings, Settings
from vaultapi.crypto.kdf import MINIMUM_KDF

TOKEN = "m" * 40


async def test_metrics_are_off_by_default(client_http: httpx.AsyncClient) -> None:
    answer = await client_http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404


async def test_metrics_need_the_token_and_count_requests(make_client: ClientFactory) -> None:
    async with make_client(metrics={"mode": "token", "token": TOKEN}) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"

        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        with pytest.raises(client.ProblemError):
            await client.login(http, EMAIL, "wrong password")
        await http.get("/v1/vault/items/00000000-0000-0000-0000-000000000000")

        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        text = scraped.text
        assert (
            'vaultapi_http_requests_total{method="POST",route="/v1/auth/srp/verify",status="401"}'
            in text
        )
        # Route templates, not raw paths: item ids do not mint label values.
        assert 'route="/v1/vault/items/{item_id}"' in text
        assert "00000000-0000-0000-0000-000000000000" not in text
        assert 'vaultapi_auth_events_total{action="srp_verify",outcome="failure"}' in text
        assert "vaultapi_http_request_duration_seconds_bucket" in text
        assert "vaultapi_db_pool_connections_in_use" in text


def test_production_needs_a_real_metrics_token() -> None:
    settings = Settings(env=Environment.PRODUCTION, metrics=MetricsSettings(mode="token"))
    assert any("METRICS__TOKEN" in problem for problem in settings.production_problems())
