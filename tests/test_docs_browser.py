"""Swagger UI and ReDoc render in a real headless Chromium, fully offline.

Every request the page makes must go to the app itself and succeed: no CDN,
no online validator, no font service. Swagger UI's Authorize dialog takes a
bearer token and "Try it out" then calls the API with it. Requires Debian's
`chromium` package; `.ci/run` installs it and sets
VAULTAPI_TEST_REQUIRE_BROWSER=1 so that these tests cannot be skipped there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import RunningServer, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    missing = None
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        missing = "the Debian package `chromium` is not installed (apt-get install chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "the PyPI package `playwright` is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("VAULTAPI_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here, but {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    chromium_path()
    with running_server(tmp_path_factory.mktemp("docs")) as server:
        yield server


@dataclass
class PageTraffic:
    base_url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        return [
            url
            for url in self.requests
            if not url.startswith((self.base_url + "/", "data:", "blob:"))
        ]


@pytest.fixture
async def browser_page(server: RunningServer) -> AsyncIterator[tuple[Any, PageTraffic]]:
    from playwright.async_api import async_playwright

    traffic = PageTraffic(server.base_url)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page()
            page.on("request", lambda r: traffic.requests.append(r.url))
            page.on("requestfailed", lambda r: traffic.failed.append(f"{r.url} {r.failure}"))
            page.on(
                "response",
                lambda r: (
                    traffic.bad_status.append(f"{r.status} {r.url}") if r.status >= 400 else None
                ),
            )
            page.on(
                "console",
                lambda m: traffic.console_errors.append(m.text) if m.type == "error" else None,
            )
            yield page, traffic
        finally:
            await browser.close()


def operations(server: RunningServer) -> list[tuple[str, str, str]]:
    import httpx

    document = httpx.get(f"{server.base_url}/openapi.json").json()
    return [
        (method.upper(), path, operation["summary"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def assert_clean(traffic: PageTraffic) -> None:
    assert traffic.requests, "the page made no requests at all"
    assert traffic.foreign() == [], "requests left the server"
    assert traffic.failed == []
    assert traffic.bad_status == []
    assert traffic.console_errors == []


async def test_swagger_ui_renders_every_operation_offline(
    server: RunningServer, browser_page: tuple[Any, PageTraffic]
) -> None:
    page, traffic = browser_page
    await page.goto(f"{server.base_url}/docs", wait_until="networkidle")
    await page.wait_for_selector(".opblock", timeout=20_000)
    shown = await page.eval_on_selector_all(
        ".opblock-summary",
        "blocks => blocks.map(b => [b.querySelector('.opblock-summary-method').innerText,"
        " b.querySelector('.opblock-summary-path').innerText])",
    )
    expected = {(method, path) for method, path, _ in operations(server)}
    assert {(m, p.replace("\u200b", "")) for m, p in shown} == expected
    assert_clean(traffic)


async def test_redoc_renders_every_operation_offline(
    server: RunningServer, browser_page: tuple[Any, PageTraffic]
) -> None:
    page, traffic = browser_page
    await page.goto(f"{server.base_url}/redoc", wait_until="networkidle")
    await page.wait_for_selector("[data-section-id^='operation/']", timeout=20_000)
    text = await page.inner_text("body")
    for _, _, summary in operations(server):
        assert summary in text
    assert_clean(traffic)


def test_operation_list_is_not_empty(server: RunningServer) -> None:
    assert len(operations(server)) >= 3, json.dumps(operations(server))


async def test_swagger_ui_authorize_and_try_it_out_with_a_bearer_token(
    server: RunningServer, browser_page: tuple[Any, PageTraffic]
) -> None:
    """The exploration path the README promises: log in (here with the reference
    client; `vault token` prints the same token), paste the access token into
    Swagger UI's Authorize dialog, try `GET /v1/account`, see this account."""
    import httpx

    from vaultapi import client
    from vaultapi.crypto.kdf import MINIMUM_KDF

    email = "swagger-explorer@example.com"  # not the schema examples' address
    password = "correct horse battery staple"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        await client.register(http, email, password, kdf=MINIMUM_KDF)
        login = await client.login(http, email, password)

    page, traffic = browser_page
    sent_authorization: list[bool] = []
    page.on(
        "request",
        lambda r: (
            sent_authorization.append(
                r.headers.get("authorization") == f"Bearer {login.access_token}"
            )
            if r.url == f"{server.base_url}/v1/account"
            else None
        ),
    )
    await page.goto(f"{server.base_url}/docs", wait_until="networkidle")
    await page.wait_for_selector(".opblock", timeout=20_000)

    await page.click("button.authorize")
    dialog = page.locator(".auth-container").filter(has_text="accessToken")
    await dialog.locator("input").fill(login.access_token)
    await dialog.locator("button.authorize").click()
    await dialog.get_by_text("Authorized").wait_for(timeout=10_000)
    await page.click("button.btn-done")

    operation = page.locator("#operations-account-getAccount")
    await operation.locator(".opblock-summary").click()
    # The documented example shows before anything runs...
    await operation.get_by_text("alice@example.com").first.wait_for(timeout=10_000)
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    # ...and the live answer is this account's, with status 200.
    live = operation.locator(".live-responses-table")
    await live.get_by_text(email).first.wait_for(timeout=20_000)
    status = await live.locator("tbody .response-col_status").first.inner_text()
    assert status.strip() == "200"
    assert sent_authorization == [True], "Swagger UI did not send the pasted bearer token"
    assert_clean(traffic)
