"""WebAuthn security keys with a software authenticator (soft-webauthn): the
full registration and login ceremonies, key management, and the attacks —
challenge reuse, wrong origin, wrong RP id, a cloned authenticator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import cbor2
import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import update

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from tests.conftest import ClientFactory
from tests.support.mfa import (
    Authenticator,
    b64url,
    code,
    enable_totp,
    pending_login,
    unb64url,
)
from vaultapi import client
from vaultapi.config import Environment, MFASettings, Settings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import WebAuthnCeremony
from vaultapi.db.types import utcnow

ORIGIN = "http://localhost:8000"  # the default setting


async def register_key(
    http: httpx.AsyncClient,
    login: client.Login,
    key: Authenticator,
    *,
    name: str = "YubiKey",
    origin: str = ORIGIN,
) -> httpx.Response:
    options = await http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
    assert options.status_code == 200, options.text
    ceremony = options.json()
    credential = key.create(ceremony["options"], origin)
    return await http.post(
        "/v1/account/mfa/webauthn",
        json={"ceremony_id": ceremony["ceremony_id"], "name": name, "credential": credential},
        headers=login.auth_header,
    )


async def login_with_key(
    http: httpx.AsyncClient, key: Authenticator, *, origin: str = ORIGIN
) -> client.Login:
    pending = await pending_login(http, EMAIL, PASSWORD)
    ceremony_id, options = await pending.webauthn_options(http)
    return await pending.with_webauthn(http, ceremony_id, key.get(options, origin))


async def test_register_a_key_then_log_in_with_it(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    key = Authenticator()
    registered = await register_key(client_http, login, key)
    assert registered.status_code == 201, registered.text
    body = registered.json()
    assert body["credential"]["name"] == "YubiKey"
    assert body["credential"]["transports"] == ["usb"]
    assert len(body["recovery_codes"]) == 10  # the first factor brings the codes

    pending = await pending_login(client_http, EMAIL, PASSWORD)
    assert pending.methods == ["webauthn", "recovery_code"]
    ceremony_id, options = await pending.webauthn_options(client_http)
    assert options["rpId"] == "localhost"
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(key.device.credential_id)]
    finished = await pending.with_webauthn(client_http, ceremony_id, key.get(options, ORIGIN))
    assert finished.account_key == login.account_key

    status = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()
    assert status["webauthn"][0]["last_used_at"] is not None


async def test_several_keys_listed_renamed_removed(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    first, second = Authenticator(), Authenticator()
    assert (await register_key(client_http, login, first, name="desk")).status_code == 201
    again = await register_key(client_http, login, second, name="keyring")
    assert again.status_code == 201
    assert again.json()["recovery_codes"] is None

    status = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()
    names = [c["name"] for c in status["webauthn"]]
    assert names == ["desk", "keyring"]
    desk_id = status["webauthn"][0]["id"]

    renamed = await client_http.patch(
        f"/v1/account/mfa/webauthn/{desk_id}", json={"name": "office"}, headers=login.auth_header
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "office"
    bad_name = await client_http.patch(
        f"/v1/account/mfa/webauthn/{desk_id}", json={"name": ""}, headers=login.auth_header
    )
    assert bad_name.status_code == 422

    # Either key finishes a login.
    await login_with_key(client_http, second)
    await login_with_key(client_http, first)

    removed = await client_http.delete(
        f"/v1/account/mfa/webauthn/{desk_id}", headers=login.auth_header
    )
    assert removed.status_code == 204
    with pytest.raises(client.ProblemError) as caught:
        await login_with_key(client_http, first)
    assert caught.value.code == "invalid_second_factor"
    missing = await client_http.delete(
        f"/v1/account/mfa/webauthn/{desk_id}", headers=login.auth_header
    )
    assert missing.status_code == 404


async def test_another_account_cannot_touch_my_keys(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    await register_key(client_http, login, Authenticator())
    key_id = (await client_http.get("/v1/account/mfa", headers=login.auth_header)).json()[
        "webauthn"
    ][0]["id"]
    await client.register(client_http, "bob@example.com", PASSWORD, kdf=MINIMUM_KDF)
    bob = await client.login(client_http, "bob@example.com", PASSWORD)
    path = f"/v1/account/mfa/webauthn/{key_id}"
    assert (await client_http.delete(path, headers=bob.auth_header)).status_code == 404
    rename = await client_http.patch(path, json={"name": "mine"}, headers=bob.auth_header)
    assert rename.status_code == 404
    assert (await client_http.delete(path)).status_code == 401


async def test_registration_ceremony_is_single_use_and_checked(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    key = Authenticator()
    options = (
        await client_http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
    ).json()

    def finish_with(ceremony_id: str, credential: dict[str, Any]) -> Any:
        return client_http.post(
            "/v1/account/mfa/webauthn",
            json={"ceremony_id": ceremony_id, "name": "k", "credential": credential},
            headers=login.auth_header,
        )

    def finish(credential: dict[str, Any]) -> Any:
        return finish_with(options["ceremony_id"], credential)

    wrong_origin = await finish(key.create(options["options"], "https://evil.example"))
    assert wrong_origin.status_code == 400
    assert wrong_origin.json()["code"] == "webauthn_rejected"
    reused = await finish(key.create(options["options"], ORIGIN))  # the ceremony is spent
    assert reused.status_code == 400
    assert reused.json()["code"] == "webauthn_ceremony_invalid"

    assert (await register_key(client_http, login, key)).status_code == 201
    # The same authenticator credential cannot be registered twice.
    options = (
        await client_http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
    ).json()
    excluded = options["options"]["excludeCredentials"]
    assert [c["id"] for c in excluded] == [b64url(key.device.credential_id)]
    duplicate = await finish_with(
        options["ceremony_id"], key.create(options["options"], ORIGIN, same_key=True)
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "mfa_state_conflict"
    options = (
        await client_http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
    ).json()
    garbage = await client_http.post(
        "/v1/account/mfa/webauthn",
        json={"ceremony_id": options["ceremony_id"], "name": "k", "credential": {"rawId": 5}},
        headers=login.auth_header,
    )
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "webauthn_rejected"


async def test_login_challenge_reuse_origin_and_rp_id(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    key = Authenticator()
    await register_key(client_http, login, key)

    pending = await pending_login(client_http, EMAIL, PASSWORD)
    ceremony_id, options = await pending.webauthn_options(client_http)
    with pytest.raises(client.ProblemError) as caught:
        await pending.with_webauthn(
            client_http, ceremony_id, key.get(options, "https://evil.example")
        )
    assert caught.value.code == "invalid_second_factor"
    # The challenge went with the failed attempt: the same ceremony cannot be retried.
    with pytest.raises(client.ProblemError) as caught:
        await pending.with_webauthn(client_http, ceremony_id, key.get(options, ORIGIN))
    assert caught.value.code == "invalid_second_factor"
    assert caught.value.body["attempts_left"] == 1

    # A ceremony belongs to its login: another login cannot use it.
    other = await pending_login(client_http, EMAIL, PASSWORD)
    first = await pending_login(client_http, EMAIL, PASSWORD)
    ceremony_id, options = await first.webauthn_options(client_http)
    with pytest.raises(client.ProblemError) as caught:
        await other.with_webauthn(client_http, ceremony_id, key.get(options, ORIGIN))
    assert caught.value.code == "invalid_second_factor"

    # An assertion made for another relying party.
    phishing = await pending_login(client_http, EMAIL, PASSWORD)
    ceremony_id, options = await phishing.webauthn_options(client_http)
    key.device.rp_id = "evil.example"
    with pytest.raises(client.ProblemError) as caught:
        await phishing.with_webauthn(
            client_http, ceremony_id, key.get({**options, "rpId": "evil.example"}, ORIGIN)
        )
    assert caught.value.code == "invalid_second_factor"
    key.device.rp_id = "localhost"
    await login_with_key(client_http, key)  # the real thing still works


async def test_a_cloned_authenticator_is_refused(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    key = Authenticator()
    await register_key(client_http, login, key)
    clone = key.clone()
    await login_with_key(client_http, key)
    await login_with_key(client_http, key)  # the original's counter is now 2
    with pytest.raises(client.ProblemError) as caught:
        await login_with_key(client_http, clone)  # the clone says 1
    assert caught.value.code == "invalid_second_factor"


async def test_expired_login_ceremony(client_http: httpx.AsyncClient, alice: Account) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    key = Authenticator()
    await register_key(client_http, login, key)
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    ceremony_id, options = await pending.webauthn_options(client_http)
    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(
            update(WebAuthnCeremony).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    with pytest.raises(client.ProblemError) as caught:
        await pending.with_webauthn(client_http, ceremony_id, key.get(options, ORIGIN))
    assert caught.value.code == "invalid_second_factor"


async def test_totp_and_key_together_and_key_limit(make_client: ClientFactory) -> None:
    async with make_client(mfa={"webauthn_max_credentials": 1}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(http, EMAIL, PASSWORD)
        secret, _codes = await enable_totp(http, login)
        registered = await register_key(http, login, Authenticator())
        assert registered.status_code == 201
        assert registered.json()["recovery_codes"] is None
        over = await http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
        assert over.status_code == 409
        assert over.json()["code"] == "limit_reached"
        pending = await pending_login(http, EMAIL, PASSWORD)
        assert pending.methods == ["totp", "webauthn", "recovery_code"]
        await pending.with_totp(http, code(secret))


async def test_webauthn_options_without_a_key(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    await enable_totp(client_http, await client.login(client_http, EMAIL, PASSWORD))
    pending = await pending_login(client_http, EMAIL, PASSWORD)
    with pytest.raises(client.ProblemError) as caught:
        await pending.webauthn_options(client_http)
    assert caught.value.code == "mfa_state_conflict"


async def test_the_browser_test_page_is_off_by_default(client_http: httpx.AsyncClient) -> None:
    assert (await client_http.get("/_test/webauthn")).status_code == 404
    production = Settings(env=Environment.PRODUCTION, mfa=MFASettings(webauthn_test_page=True))
    assert any("WEBAUTHN_TEST_PAGE" in problem for problem in production.production_problems())


def test_webauthn_origins_must_be_exact() -> None:
    for origins in ([], ["localhost"], ["https://vault.example.com/"], ["ftp://x"]):
        with pytest.raises(ValidationError):
            MFASettings(webauthn_origins=origins)
    assert MFASettings(webauthn_origins=["https://vault.example.com"]).webauthn_origins


async def test_malformed_assertions_are_wrong_factors_not_errors(
    make_client: ClientFactory,
) -> None:
    async with make_client(abuse={"account_free_failures": 50}) as client_http:
        await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        await _malformed_assertions(client_http)


async def _malformed_assertions(client_http: httpx.AsyncClient) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    key = Authenticator()
    await register_key(client_http, login, key)
    good = None
    mangles: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
        lambda c: {},
        lambda c: {**c, "rawId": 5},
        lambda c: {**c, "rawId": "!!!"},
        lambda c: {**c, "response": {**c["response"], "authenticatorData": "AA"}},
        lambda c: {**c, "response": {**c["response"], "signature": "x" * 5000}},
        lambda c: {**c, "response": {**c["response"], "clientDataJSON": "bm90IGpzb24"}},
        lambda c: {**c, "type": "password"},
        lambda c: {**c, "response": {**c["response"], "userHandle": ["not", "a", "string"]}},
    ]
    for mangle in mangles:
        pending = await pending_login(client_http, EMAIL, PASSWORD)
        ceremony_id, options = await pending.webauthn_options(client_http)
        good = key.get(options, ORIGIN)
        answer = await client_http.post(
            "/v1/auth/mfa/webauthn",
            json={
                "mfa_token": pending.mfa_token,
                "ceremony_id": ceremony_id,
                "credential": mangle(good),
            },
        )
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "invalid_second_factor"
    assert good is not None


async def test_a_registration_without_user_presence_is_refused(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    options = (
        await client_http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
    ).json()
    credential = Authenticator().create(options["options"], ORIGIN)
    attestation = cbor2.loads(unb64url(credential["response"]["attestationObject"]))
    auth_data = bytearray(attestation["authData"])
    auth_data[32] &= ~0x01  # clear the user-present flag
    attestation["authData"] = bytes(auth_data)
    credential["response"]["attestationObject"] = b64url(cbor2.dumps(attestation))
    answer = await client_http.post(
        "/v1/account/mfa/webauthn",
        json={"ceremony_id": options["ceremony_id"], "name": "k", "credential": credential},
        headers=login.auth_header,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "webauthn_rejected"


async def test_a_registration_for_another_rp_id_is_refused(make_client: ClientFactory) -> None:
    async with make_client(mfa={"webauthn_rp_id": "vault.example.com"}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(http, EMAIL, PASSWORD)
        options = (
            await http.post("/v1/account/mfa/webauthn/options", headers=login.auth_header)
        ).json()
        phished = {**options["options"], "rp": {**options["options"]["rp"], "id": "evil.example"}}
        answer = await http.post(
            "/v1/account/mfa/webauthn",
            json={
                "ceremony_id": options["ceremony_id"],
                "name": "k",
                "credential": Authenticator().create(phished, ORIGIN),
            },
            headers=login.auth_header,
        )
        assert answer.status_code == 400
        assert answer.json()["code"] == "webauthn_rejected"
