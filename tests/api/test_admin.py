"""The admin API: the role matrix, no vault contents, exact statistics, the
logs, lockouts, IP rules (also across two app instances), retention."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlmodel import col

from tests.api.conftest import EMAIL, PASSWORD, runtime_of
from tests.conftest import ClientFactory
from tests.support.servers import clean_environment
from tests.support.servers import vaultapi_command as command_line
from vaultapi import client
from vaultapi.client.vault import Vault
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import Account, AuditEvent, AuthEvent, IPRule
from vaultapi.db.repositories.admin import AdminRepository
from vaultapi.db.types import utcnow
from vaultapi.services.maintenance import purge_logs

ADMIN = "root@example.com"


async def make_admin(http: httpx.AsyncClient, email: str = ADMIN) -> client.Login:
    await client.register(http, email, PASSWORD, kdf=MINIMUM_KDF)
    async with runtime_of(http).sessionmaker() as session:
        assert await AdminRepository(session).set_role(email, "admin")
        await session.commit()
    return await client.login(http, email, PASSWORD)


def _app(http: httpx.AsyncClient) -> FastAPI:
    transport = http._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


def admin_operations(http: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    """Every admin route with its path parameters filled and required query
    parameters given, so that only the role decides the answer."""
    document = _app(http).openapi()
    found = []
    for path, item in document["paths"].items():
        if not path.startswith("/v1/admin"):
            continue
        for method in item:
            url = path.replace("{account_id}", str(uuid.uuid4())).replace(
                "{rule_id}", str(uuid.uuid4())
            )
            params: dict[str, Any] = {}
            for parameter in item[method].get("parameters", []):
                if parameter["in"] == "query" and parameter.get("required"):
                    params[parameter["name"]] = {"from": "2026-01-01", "to": "2026-01-02"}.get(
                        parameter["name"], "x"
                    )
            found.append((method.upper(), url, params))
    return found


async def test_only_admins_reach_the_admin_api(client_http: httpx.AsyncClient) -> None:
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    user = await client.login(client_http, EMAIL, PASSWORD)
    admin = await make_admin(client_http)
    operations = admin_operations(client_http)
    assert len(operations) >= 15
    body = {"network": "192.0.2.1", "action": "block", "reason": "matrix"}
    for method, url, params in operations:
        json = body if method == "POST" and url.endswith("ip-rules") else None
        anonymous = await client_http.request(method, url, params=params, json=json)
        assert anonymous.status_code == 401, (method, url)
        as_user = await client_http.request(
            method, url, params=params, json=json, headers=user.auth_header
        )
        assert as_user.status_code == 403, (method, url, as_user.text)
        assert as_user.json()["code"] == "admin_required"
        as_admin = await client_http.request(
            method, url, params=params, json=json, headers=admin.auth_header
        )
        assert as_admin.status_code in (200, 201, 204, 404), (method, url, as_admin.text)


async def test_the_role_is_read_on_every_request(client_http: httpx.AsyncClient) -> None:
    admin = await make_admin(client_http)
    assert (
        await client_http.get("/v1/admin/ip-rules", headers=admin.auth_header)
    ).status_code == 200
    async with runtime_of(client_http).sessionmaker() as session:
        await AdminRepository(session).set_role(ADMIN, "user")
        await session.commit()
    revoked = await client_http.get("/v1/admin/ip-rules", headers=admin.auth_header)
    assert revoked.status_code == 403  # the token still says admin; the database does not


async def test_admins_see_counts_never_contents(client_http: httpx.AsyncClient) -> None:
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    owner = await client.login(client_http, EMAIL, PASSWORD)
    vault = Vault(client_http, owner)
    item = await vault.add({"name": "bank", "password": "hunter2"})
    admin = await make_admin(client_http)

    stored = (await client_http.get(f"/v1/vault/items/{item.id}", headers=owner.auth_header)).json()
    secret_fields = [stored["data"], stored["key"]]
    page = await client_http.get(
        "/v1/admin/accounts", params={"email_prefix": "alice"}, headers=admin.auth_header
    )
    account_id = page.json()["accounts"][0]["id"]
    detail = await client_http.get(f"/v1/admin/accounts/{account_id}", headers=admin.auth_header)
    assert detail.json()["counts"]["items"] == 1
    for method, url, params in admin_operations(client_http):
        if method != "GET":
            continue
        answer = await client_http.get(
            url.replace(url.split("/")[-1], account_id) if "{" in url else url,
            params=params,
            headers=admin.auth_header,
        )
        for secret in secret_fields:
            assert secret not in answer.text, url
    # The vault routes are owner-scoped: an admin's token finds nothing.
    foreign = await client_http.get(f"/v1/vault/items/{item.id}", headers=admin.auth_header)
    assert foreign.status_code == 404
    export = await client_http.get("/v1/vault/export", headers=admin.auth_header)
    assert stored["data"] not in export.text


async def test_account_search_and_actions(client_http: httpx.AsyncClient) -> None:
    admin = await make_admin(client_http)
    for name in ("ann", "bea", "cid", "dan", "eve"):
        await client.register(client_http, f"{name}@example.org", PASSWORD, kdf=MINIMUM_KDF)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"email_prefix": "", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client_http.get("/v1/admin/accounts", params=params, headers=admin.auth_header)
        ).json()
        seen += [a["email"] for a in page["accounts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == 6
    bad_cursor = await client_http.get(
        "/v1/admin/accounts", params={"cursor": "%%%"}, headers=admin.auth_header
    )
    assert bad_cursor.status_code == 400

    eve = await client.login(client_http, "eve@example.org", PASSWORD)
    eve_id = str(eve.account_id)
    disabled = await client_http.post(
        f"/v1/admin/accounts/{eve_id}/disable", headers=admin.auth_header
    )
    assert disabled.json()["status"] == "disabled"
    assert (await client_http.get("/v1/account", headers=eve.auth_header)).status_code == 403
    only_disabled = await client_http.get(
        "/v1/admin/accounts", params={"status": "disabled"}, headers=admin.auth_header
    )
    assert [a["email"] for a in only_disabled.json()["accounts"]] == ["eve@example.org"]
    await client_http.post(f"/v1/admin/accounts/{eve_id}/enable", headers=admin.auth_header)
    assert (await client_http.get("/v1/account", headers=eve.auth_header)).status_code == 200

    logout = await client_http.post(
        f"/v1/admin/accounts/{eve_id}/logout", headers=admin.auth_header
    )
    assert logout.json()["revoked"] == 1
    assert (await client_http.get("/v1/account", headers=eve.auth_header)).status_code == 401

    own = await client_http.post(
        f"/v1/admin/accounts/{admin.account_id}/disable", headers=admin.auth_header
    )
    assert own.status_code == 409
    gone = await client_http.delete(f"/v1/admin/accounts/{eve_id}", headers=admin.auth_header)
    assert gone.status_code == 204
    with pytest.raises(client.ProblemError):
        await client.login(client_http, "eve@example.org", PASSWORD)

    events = (
        await client_http.get(
            "/v1/admin/audit-events",
            params={"action": "admin_action"},
            headers=admin.auth_header,
        )
    ).json()["events"]
    details = [e["detail"] for e in events]
    assert "set status disabled" in details
    assert "force logout (1 sessions)" in details
    assert all(e["actor_id"] == str(admin.account_id) for e in events)


async def test_owners_read_their_own_audit_log(client_http: httpx.AsyncClient) -> None:
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    first = await client.login(client_http, EMAIL, PASSWORD, device_name="laptop")
    await client.login(client_http, EMAIL, PASSWORD, device_name="laptop")
    phone = await client.login(client_http, EMAIL, PASSWORD, device_name="phone")
    await client_http.delete(f"/v1/account/sessions/{phone.session_id}", headers=first.auth_header)
    await client.register(client_http, "bob@example.com", PASSWORD, kdf=MINIMUM_KDF)
    await client.login(client_http, "bob@example.com", PASSWORD, device_name="bobs")

    events = (await client_http.get("/v1/account/audit-events", headers=first.auth_header)).json()
    actions = [(e["action"], e["detail"]) for e in reversed(events["events"])]
    assert actions == [
        ("new_device", "laptop"),
        ("login", "laptop"),
        ("new_device", "phone"),
        ("session_revoked", str(phone.session_id)),
    ]


async def test_logs_can_be_read_for_an_account_that_is_gone(
    client_http: httpx.AsyncClient,
) -> None:
    """Found by the fuzzer: recording the read on a missing account was a 500."""
    admin = await make_admin(client_http)
    registration = await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    gone = await client.login(client_http, EMAIL, PASSWORD)
    assert (await client_http.delete("/v1/account", headers=gone.auth_header)).status_code == 204
    never = uuid.uuid4()
    for account_id in (registration.account_id, never):
        for path in (
            "/v1/admin/auth-events",
            "/v1/admin/auth-events/export",
            "/v1/admin/audit-events",
        ):
            answer = await client_http.get(
                path, params={"account_id": str(account_id)}, headers=admin.auth_header
            )
            assert answer.status_code == 200, (path, answer.text)

    trail = await client_http.get(
        "/v1/admin/audit-events", params={"action": "admin_action"}, headers=admin.auth_header
    )
    details = [e["detail"] for e in trail.json()["events"] if e["account_id"] is None]
    assert f"read audit log of unknown account {never}" in details
    assert f"export authentication log of unknown account {registration.account_id}" in details

    # An account that exists still has the read recorded on it, for its owner to see.
    mine = await client_http.get(
        "/v1/admin/audit-events",
        params={"account_id": str(admin.account_id)},
        headers=admin.auth_header,
    )
    assert mine.status_code == 200
    own = await client_http.get("/v1/account/audit-events", headers=admin.auth_header)
    assert "read audit log" in [e["detail"] for e in own.json()["events"]]


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        # Control characters in text filters (PostgreSQL cannot even compare NUL): 422.
        ("/v1/admin/accounts", {"email_prefix": "a\x00"}, 422),
        ("/v1/admin/auth-events", {"ip": "127.0.0.1\x00"}, 422),
        ("/v1/admin/auth-events", {"action": "srp\x00"}, 422),
        ("/v1/admin/auth-events/export", {"network": "10.0.0.0/8\n"}, 422),
        ("/v1/admin/audit-events", {"action": "login\x1f"}, 422),
        # Cursors that decode to something no page ever handed out: 400.
        ("/v1/admin/accounts", {"cursor": _cursor("a@example.com\x00")}, 400),
        ("/v1/admin/auth-events", {"cursor": _cursor("\u00b2")}, 400),  # isdigit(), not a number
        ("/v1/admin/audit-events", {"cursor": _cursor("9" * 40)}, 400),  # beyond BIGINT
        ("/v1/account/audit-events", {"cursor": _cursor("1\x00")}, 400),
    ],
)
async def test_admin_filters_refuse_what_no_record_can_hold(
    client_http: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    """Found by the fuzzer: each of these was a 500 on PostgreSQL."""
    admin = await make_admin(client_http)
    answer = await client_http.get(path, params=params, headers=admin.auth_header)
    assert answer.status_code == status, answer.text
    if path != "/v1/admin/auth-events/export":
        assert (await client_http.get(path, headers=admin.auth_header)).status_code == 200


async def test_a_lockout_key_with_a_control_character_is_refused(
    client_http: httpx.AsyncClient,
) -> None:
    admin = await make_admin(client_http)
    key = await client_http.delete(
        "/v1/admin/lockouts", params={"key": "identity:\x00"}, headers=admin.auth_header
    )
    assert key.status_code == 422, key.text


async def test_auth_log_filters_pages_and_csv(client_http: httpx.AsyncClient) -> None:
    admin = await make_admin(client_http)
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    with pytest.raises(client.ProblemError):
        await client.login(client_http, EMAIL, "wrong password")
    hostile = '=HYPERLINK("http://evil")'
    client_http.headers["User-Agent"] = hostile
    with pytest.raises(client.ProblemError):
        await client.login(client_http, "nobody@example.com", "wrong password")
    del client_http.headers["User-Agent"]

    async def events(**params: Any) -> list[dict[str, Any]]:
        answer = await client_http.get(
            "/v1/admin/auth-events", params=params, headers=admin.auth_header
        )
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["events"]
        return found

    failures = await events(outcome="failure")
    assert [(e["action"], e["reason"]) for e in failures] == [
        ("srp_verify", "unknown_account"),
        ("srp_verify", "bad_proof"),
    ]
    assert await events(network="127.0.0.0/8") == await events(ip="127.0.0.1")
    assert await events(network="10.0.0.0/8") == []
    bad = await client_http.get(
        "/v1/admin/auth-events", params={"network": "not-a-net"}, headers=admin.auth_header
    )
    assert bad.status_code == 400

    everything = await events()
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        answer = (
            await client_http.get("/v1/admin/auth-events", params=params, headers=admin.auth_header)
        ).json()
        pages += answer["events"]
        cursor = answer["next_cursor"]
        if not cursor:
            break
    assert pages == everything

    exported = await client_http.get("/v1/admin/auth-events/export", headers=admin.auth_header)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(everything)
    assert "'" + hostile in [row["user_agent"] for row in rows]


async def test_lockouts_are_listed_and_cleared(make_client: ClientFactory) -> None:
    async with make_client(abuse={"account_free_failures": 1}) as http:
        admin = await make_admin(http)
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        with pytest.raises(client.ProblemError):
            await client.login(http, EMAIL, "wrong password")
        with pytest.raises(client.ProblemError) as caught:
            await client.login(http, EMAIL, PASSWORD)
        assert caught.value.code == "too_many_attempts"

        listed = (
            await http.get("/v1/admin/lockouts", params={"email": EMAIL}, headers=admin.auth_header)
        ).json()["lockouts"]
        assert len(listed) == 1
        assert listed[0]["kind"] == "account"
        assert listed[0]["blocked_until"] is not None
        everything = (await http.get("/v1/admin/lockouts", headers=admin.auth_header)).json()
        assert {"account", "ip_failures"} <= {entry["kind"] for entry in everything["lockouts"]}
        cleared = await http.delete(
            "/v1/admin/lockouts", params={"key": listed[0]["key"]}, headers=admin.auth_header
        )
        assert cleared.status_code == 204
        await client.login(http, EMAIL, PASSWORD)


async def test_blocked_ips_get_403_on_auth_routes(client_http: httpx.AsyncClient) -> None:
    admin = await make_admin(client_http)
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    block = await client_http.post(
        "/v1/admin/ip-rules",
        json={"network": "127.0.0.0/8", "action": "block", "reason": "credential stuffing"},
        headers=admin.auth_header,
    )
    assert block.status_code == 201
    assert block.json()["network"] == "127.0.0.0/8"
    for path, body in (
        ("/v1/auth/prelogin", {"email": EMAIL}),
        ("/v1/auth/srp/start", {"email": EMAIL, "A": "00" * 384}),
        ("/v1/auth/srp/verify", {"handshake_id": str(uuid.uuid4()), "M1": "00" * 32}),
        ("/v1/auth/refresh", {"refresh_token": admin.refresh_token}),
        ("/v1/auth/mfa/totp", {"mfa_token": "vmt_x", "code": "123456"}),
    ):
        refused = await client_http.post(path, json=body)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "ip_blocked"
    # Other routes work: the admin can still undo it.
    allow = await client_http.post(
        "/v1/admin/ip-rules",
        json={
            "network": "127.0.0.1",
            "action": "allow",
            "reason": "the office",
            "duration_seconds": 3600,
        },
        headers=admin.auth_header,
    )
    assert allow.json()["network"] == "127.0.0.1/32"
    assert allow.json()["expires_at"]
    await client.login(client_http, EMAIL, PASSWORD)  # the allow carves it out
    for rule in (block, allow):
        removed = await client_http.delete(
            f"/v1/admin/ip-rules/{rule.json()['id']}", headers=admin.auth_header
        )
        assert removed.status_code == 204
    rules = (await client_http.get("/v1/admin/ip-rules", headers=admin.auth_header)).json()
    assert rules["rules"] == []
    invalid = await client_http.post(
        "/v1/admin/ip-rules",
        json={"network": "300.1.2.3", "action": "block", "reason": "x"},
        headers=admin.auth_header,
    )
    assert invalid.status_code == 400


def test_every_auth_route_checks_ip_blocks() -> None:
    """The check is per route on `/auth` (on the connection each route uses
    anyway): none may lack it. A route has it as a dependency, or (the login
    routes, which take none) enters one of the login contexts that make it."""
    from fastapi.routing import APIRoute

    from vaultapi.api import auth, mfa
    from vaultapi.api.deps import LOGIN_CONTEXTS, REFUSE_BLOCKED_IP

    checked = entering = 0
    for router in (auth.router, mfa.login_router):
        on_router = {dependency.dependency for dependency in router.dependencies}
        for route in router.routes:
            assert isinstance(route, APIRoute)
            on_route = {dependency.call for dependency in route.dependant.dependencies}
            entered = set(route.endpoint.__code__.co_names) & {
                context.__name__ for context in LOGIN_CONTEXTS
            }
            assert (on_router | on_route) & set(REFUSE_BLOCKED_IP) or entered, route.path
            checked += 1
            entering += bool(entered)
    assert checked >= 10
    assert entering == len(LOGIN_CONTEXTS)  # prelogin, srp/start, srp/verify


async def test_an_ip_block_holds_on_another_worker_within_its_cache_time(
    make_postgresql_client: ClientFactory,
) -> None:
    """Each worker reuses the rules it read for `ip_rules_cache_seconds`:
    the worker that made the block refuses at once, another one once its copy
    is that old (and not before: the cache is real), none ever later."""
    cache = {"admin": {"ip_rules_cache_seconds": 1.0}}
    async with make_postgresql_client(**cache) as one, make_postgresql_client(**cache) as two:
        admin = await make_admin(one)
        assert (await two.post("/v1/auth/prelogin", json={"email": EMAIL})).status_code == 200
        read_at = time.monotonic()  # `two` has just read the (empty) rules
        await one.post(
            "/v1/admin/ip-rules",
            json={"network": "127.0.0.1", "action": "block", "reason": "test"},
            headers=admin.auth_header,
        )
        assert (await one.post("/v1/auth/prelogin", json={"email": EMAIL})).status_code == 403
        cached = await two.post("/v1/auth/prelogin", json={"email": EMAIL})
        if time.monotonic() - read_at < 1.0:
            assert cached.status_code == 200  # still its copy from before the block
        await asyncio.sleep(max(0.0, read_at + 1.05 - time.monotonic()))
        refused = await two.post("/v1/auth/prelogin", json={"email": EMAIL})
        assert refused.status_code == 403
        assert refused.json()["code"] == "ip_blocked"


async def test_an_ip_block_holds_on_every_worker_at_once_without_the_cache(
    make_postgresql_client: ClientFactory,
) -> None:
    no_cache = {"admin": {"ip_rules_cache_seconds": 0}}
    async with (
        make_postgresql_client(**no_cache) as one,
        make_postgresql_client(**no_cache) as two,
    ):
        admin = await make_admin(one)
        assert (await two.post("/v1/auth/prelogin", json={"email": EMAIL})).status_code == 200
        await one.post(
            "/v1/admin/ip-rules",
            json={"network": "127.0.0.1", "action": "block", "reason": "test"},
            headers=admin.auth_header,
        )
        refused = await two.post("/v1/auth/prelogin", json={"email": EMAIL})
        assert refused.status_code == 403


async def test_a_cached_rule_stops_at_its_expiry(make_client: ClientFactory) -> None:
    """A rule that expires while a worker holds it in its copy stops applying
    at its `expires_at`, not at the next read."""
    async with make_client(admin={"ip_rules_cache_seconds": 300}) as http:
        admin = await make_admin(http)
        await http.post(
            "/v1/admin/ip-rules",
            json={
                "network": "127.0.0.1",
                "action": "block",
                "reason": "short",
                "duration_seconds": 60,
            },
            headers=admin.auth_header,
        )
        expires_at = utcnow() + timedelta(seconds=1)  # shorter than the API allows
        async with runtime_of(http).sessionmaker() as session:
            await session.execute(update(IPRule).values(expires_at=expires_at))
            await session.commit()
        assert (await http.post("/v1/auth/prelogin", json={"email": EMAIL})).status_code == 403
        await asyncio.sleep(max(0.0, (expires_at - utcnow()).total_seconds()) + 0.05)
        assert (await http.post("/v1/auth/prelogin", json={"email": EMAIL})).status_code == 200


async def _seed_auth_events(
    http: httpx.AsyncClient, rows: list[tuple[datetime, str, str, str, str]]
) -> None:
    async with runtime_of(http).sessionmaker() as session:
        await session.execute(delete(AuthEvent))
        account_ids = {}
        for at, action, outcome, reason, who in rows:
            if who and who not in account_ids:
                account_ids[who] = (
                    await session.execute(select(col(Account.id)).where(col(Account.email) == who))
                ).scalar_one()
            session.add(
                AuthEvent(
                    at=at,
                    ip="198.51.100.7" if outcome != "success" else "192.0.2.1",
                    user_agent="seed",
                    account_id=account_ids.get(who),
                    action=action,
                    outcome=outcome,
                    reason=reason,
                )
            )
        await session.commit()


async def test_statistics_match_a_seeded_data_set(client_http: httpx.AsyncClient) -> None:
    admin = await make_admin(client_http)
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    owner = await client.login(client_http, EMAIL, PASSWORD)
    vault = Vault(client_http, owner)
    first = await vault.add({"name": "a"})
    await vault.add({"name": "b"})
    first.fields = {"name": "a2"}
    first = await vault.update(first)
    await vault.trash(first)
    await Vault(client_http, admin).add({"name": "c"})  # another account: another counter shard

    monday = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
    tuesday = monday + timedelta(days=1)
    await _seed_auth_events(
        client_http,
        [
            (monday + timedelta(hours=9), "register", "success", "", EMAIL),
            (monday + timedelta(hours=9, minutes=1), "srp_verify", "success", "", EMAIL),
            (
                monday + timedelta(hours=9, minutes=2),
                "srp_verify",
                "success",
                "mfa_required",
                ADMIN,
            ),
            (monday + timedelta(hours=9, minutes=3), "mfa_totp", "success", "", ADMIN),
            (monday + timedelta(hours=23, minutes=59), "srp_verify", "failure", "bad_proof", EMAIL),
            (
                tuesday + timedelta(hours=0, minutes=1),
                "srp_verify",
                "blocked",
                "rate_limited",
                EMAIL,
            ),
            (tuesday + timedelta(hours=13), "srp_verify", "success", "", EMAIL),
            (tuesday + timedelta(hours=13, minutes=5), "srp_verify", "success", "", EMAIL),
            (tuesday + timedelta(hours=14), "prelogin", "success", "", ""),
        ],
    )
    daily = await client_http.get(
        "/v1/admin/stats/daily",
        params={"from": "2026-03-02", "to": "2026-03-04"},
        headers=admin.auth_header,
    )
    assert daily.status_code == 200, daily.text
    days = {d["day"]: d for d in daily.json()["days"]}
    assert list(days) == ["2026-03-02", "2026-03-03", "2026-03-04"]
    pick = ("registrations", "logins_succeeded", "logins_failed", "active_accounts")
    assert [days["2026-03-02"][k] for k in pick] == [1, 2, 1, 2]
    assert [days["2026-03-03"][k] for k in pick] == [0, 2, 1, 1]
    assert [days["2026-03-04"][k] for k in pick] == [0, 0, 0, 0]

    today = utcnow().date().isoformat()
    now_stats = (
        await client_http.get(
            "/v1/admin/stats/daily", params={"from": today, "to": today}, headers=admin.auth_header
        )
    ).json()["days"][0]
    assert (now_stats["items_created"], now_stats["items_updated"], now_stats["items_deleted"]) == (
        3,
        1,
        1,
    )

    frequency = (
        await client_http.get(
            "/v1/admin/stats/frequency",
            params={"from": "2026-03-02", "to": "2026-03-03"},
            headers=admin.auth_header,
        )
    ).json()
    hours = {b["bucket"]: (b["logins_succeeded"], b["logins_failed"]) for b in frequency["by_hour"]}
    assert hours[9] == (2, 0)
    assert hours[23] == (0, 1)
    assert hours[0] == (0, 1)
    assert hours[13] == (2, 0)
    assert sum(s + f for s, f in hours.values()) == 6
    weekdays = [(b["logins_succeeded"], b["logins_failed"]) for b in frequency["by_weekday"]]
    assert weekdays == [(2, 1), (2, 1), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)]
    assert frequency["top_failing_ips"] == [{"ip": "198.51.100.7", "failures": 2}]

    for params in (
        {"from": "2026-03-04", "to": "2026-03-02"},
        {"from": "2020-01-01", "to": "2026-01-01"},
    ):
        refused = await client_http.get(
            "/v1/admin/stats/daily", params=params, headers=admin.auth_header
        )
        assert refused.status_code == 400


async def test_old_log_records_are_purged(client_http: httpx.AsyncClient) -> None:
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    await client.login(client_http, EMAIL, PASSWORD)
    old = utcnow() - timedelta(days=181)
    async with runtime_of(client_http).sessionmaker() as session:
        session.add(AuthEvent(at=old, ip="192.0.2.9", action="srp_verify", outcome="failure"))
        session.add(AuditEvent(at=old, action="login"))
        await session.commit()
        purged = await purge_logs(session, utcnow(), retention_days=180)
        await session.commit()
        assert purged == 2
        left = (await session.execute(select(AuthEvent))).scalars().all()
        assert left
        assert all(event.at > old for event in left)


async def vaultapi_command(database_url: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command_line(*args),
        env=clean_environment({"VAULTAPI_DATABASE_URL": database_url}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_admin_grant_and_revoke_on_the_command_line(
    database_url: str, client_http: httpx.AsyncClient
) -> None:
    await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    login = await client.login(client_http, EMAIL, PASSWORD)
    assert (
        await client_http.get("/v1/admin/ip-rules", headers=login.auth_header)
    ).status_code == 403

    code, output = await vaultapi_command(database_url, "admin", "grant", "Alice@Example.com")
    assert code == 0, output
    assert "alice@example.com is now an admin" in output
    assert (
        await client_http.get("/v1/admin/ip-rules", headers=login.auth_header)
    ).status_code == 200

    code, output = await vaultapi_command(database_url, "admin", "revoke", EMAIL)
    assert code == 0, output
    assert (
        await client_http.get("/v1/admin/ip-rules", headers=login.auth_header)
    ).status_code == 403

    code, output = await vaultapi_command(database_url, "admin", "grant", "nobody@example.com")
    assert code == 1
    assert "no account" in output
    code, output = await vaultapi_command(database_url, "admin", "grant", "not an address")
    assert code == 2
