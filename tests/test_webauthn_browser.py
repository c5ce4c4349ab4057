"""WebAuthn in a real browser: headless Chromium with a virtual authenticator
(DevTools `WebAuthn.addVirtualAuthenticator`) registers a security key and
then finishes a login with it, against a real `vaultapi serve` process and
its test page. Requires Debian's `chromium`; `.ci/run` installs it and makes
this test mandatory (VAULTAPI_TEST_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.mfa import pending_login
from tests.support.servers import free_port, running_server
from tests.test_docs_browser import CHROMIUM_FLAGS, chromium_path
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL, PASSWORD = "browser@example.com", "correct horse battery staple"

VIRTUAL_SECURITY_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


async def test_a_browser_registers_a_key_and_logs_in_with_it(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    chromium = chromium_path()
    port = free_port()
    origin = f"http://localhost:{port}"  # a secure context, and a valid RP id
    env = {
        "VAULTAPI_MFA__WEBAUTHN_TEST_PAGE": "true",
        "VAULTAPI_MFA__WEBAUTHN_RP_ID": "localhost",
        "VAULTAPI_MFA__WEBAUTHN_ORIGINS": json.dumps([origin]),
    }
    with running_server(tmp_path, env=env, port=port) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            login = await client.login(http, EMAIL, PASSWORD)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium, args=CHROMIUM_FLAGS
                )
                try:
                    context = await browser.new_context()
                    page = await context.new_page()
                    devtools = await context.new_cdp_session(page)
                    await devtools.send("WebAuthn.enable")
                    authenticator = await devtools.send(
                        "WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_SECURITY_KEY}
                    )
                    await page.goto(f"{origin}/_test/webauthn")

                    registered = await page.evaluate(
                        "([token, name]) => registerKey(token, name)",
                        [login.access_token, "virtual key"],
                    )
                    assert registered["status"] == 201, registered
                    assert registered["body"]["credential"]["name"] == "virtual key"
                    assert len(registered["body"]["recovery_codes"]) == 10

                    pending = await pending_login(http, EMAIL, PASSWORD)
                    assert pending.methods == ["webauthn", "recovery_code"]
                    finished = await page.evaluate("token => finishLogin(token)", pending.mfa_token)
                    assert finished["status"] == 200, finished
                    access = finished["body"]["access_token"]
                    me = await http.get(
                        "/v1/account", headers={"Authorization": f"Bearer {access}"}
                    )
                    assert me.status_code == 200

                    stored = await devtools.send(
                        "WebAuthn.getCredentials",
                        {"authenticatorId": authenticator["authenticatorId"]},
                    )
                    assert len(stored["credentials"]) == 1
                    assert stored["credentials"][0]["rpId"] == "localhost"

                    # The same mfa_token cannot be finished twice.
                    again = await page.evaluate("token => finishLogin(token)", pending.mfa_token)
                    assert again["status"] == 401
                    assert again["body"]["code"] == "mfa_token_invalid"
                finally:
                    await browser.close()
