"""Forwarded headers are believed from configured proxies only, and a
production server reachable over plain HTTP with no proxy says so loudly."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import production_environment
from tests.support.servers import running_server
from vaultapi.crypto import srp
from vaultapi.proxies import UNKNOWN_PEER, forwarded_client, forwarded_scheme

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("192.0.2.7", ["203.0.113.9"], "192.0.2.7"),  # not a proxy: header ignored
        ("10.1.2.3", ["203.0.113.9"], "203.0.113.9"),
        ("10.1.2.3", ["198.51.100.1, 203.0.113.9"], "203.0.113.9"),  # rightmost untrusted
        ("10.1.2.3", ["203.0.113.9, 10.9.9.9"], "203.0.113.9"),  # skipping our proxies
        ("10.1.2.3", ["203.0.113.9", "10.9.9.9"], "203.0.113.9"),  # repeated header
        ("10.1.2.3", ["garbage, 203.0.113.9"], "203.0.113.9"),
        ("10.1.2.3", ["203.0.113.9, garbage"], "10.1.2.3"),  # malformed hop: the peer
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["10.4.4.4"], "10.1.2.3"),  # all trusted: the peer
        ("::1", ["2001:db8::1"], "2001:db8::1"),
        ("not-an-ip", ["203.0.113.9"], UNKNOWN_PEER),
    ],
)
def test_forwarded_client(peer: str, forwarded_for: list[str], client: str) -> None:
    assert forwarded_client(peer, forwarded_for, PROXIES) == client


@pytest.mark.parametrize(
    ("peer", "proto", "scheme"),
    [
        ("10.1.2.3", ["https"], "https"),
        ("10.1.2.3", ["HTTP"], "http"),
        ("10.1.2.3", ["http, https"], "https"),  # the trusted proxy's own (rightmost) value
        ("10.1.2.3", ["gopher"], None),
        ("10.1.2.3", [], None),
        ("192.0.2.7", ["https"], None),  # not a proxy
    ],
)
def test_forwarded_scheme(peer: str, proto: list[str], scheme: str | None) -> None:
    assert forwarded_scheme(peer, proto, PROXIES) == scheme


def _access_log_client_ips(log: str) -> list[str]:
    return [
        entry["client_ip"]
        for entry in (json.loads(line) for line in log.splitlines() if line.startswith("{"))
        if entry.get("logger") == "vaultapi.access" and entry.get("path") == "/v1/auth/srp/start"
    ]


def _handshake_statuses(base_url: str) -> list[tuple[int, bool]]:
    """Three handshake starts, each claiming to come from another address
    over HTTPS: (status, whether the answer carried HSTS)."""
    statuses = []
    for n in range(3):
        body = {"email": "nobody@example.com", "A": srp.encode_int(srp.client_start().public_A)}
        response = httpx.post(
            f"{base_url}/v1/auth/srp/start",
            json=body,
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}", "X-Forwarded-Proto": "https"},
        )
        statuses.append((response.status_code, "strict-transport-security" in response.headers))
    return statuses


@pytest.mark.slow
def test_a_spoofed_forwarded_for_is_ignored_from_an_untrusted_peer(
    workdir: Path, postgresql_url: str
) -> None:
    """Our client (127.0.0.1) is not a configured proxy: its X-Forwarded-For
    and X-Forwarded-Proto are its own text. The per-IP limit holds, the
    access log names the real peer, and plain HTTP gets no HSTS."""
    env = {
        **production_environment(postgresql_url),
        "VAULTAPI_HTTP__TRUSTED_PROXIES": '["10.0.0.0/8"]',
        "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": "2",
    }
    with running_server(workdir, env=env) as server:
        statuses = _handshake_statuses(server.base_url)
    assert statuses == [(200, False), (200, False), (429, False)]
    assert _access_log_client_ips(server.log()) == ["127.0.0.1"] * 3
    assert "PRODUCTION OVER PLAIN HTTP" not in server.log()  # a proxy is configured


@pytest.mark.slow
def test_forwarded_headers_from_a_configured_proxy_are_believed(
    workdir: Path, postgresql_url: str
) -> None:
    env = {
        **production_environment(postgresql_url),
        "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": "2",
    }
    args = ["--forwarded-allow-ips", "127.0.0.1"]
    with running_server(workdir, env=env, args=args) as server:
        statuses = _handshake_statuses(server.base_url)
    assert statuses == [(200, True), (200, True), (200, True)]
    assert _access_log_client_ips(server.log()) == ["203.0.113.1", "203.0.113.2", "203.0.113.3"]


@pytest.mark.slow
def test_production_over_plain_http_without_a_proxy_warns_loudly(
    workdir: Path, postgresql_url: str
) -> None:
    with running_server(workdir, env=production_environment(postgresql_url)) as server:
        pass
    warnings = [
        json.loads(line)
        for line in server.log().splitlines()
        if "PRODUCTION OVER PLAIN HTTP" in line
    ]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert "VAULTAPI_HTTP__TRUSTED_PROXIES" in warnings[0]["message"]
