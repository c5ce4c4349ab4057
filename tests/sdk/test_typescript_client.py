"""The TypeScript client in sdk/typescript/, written from docs/protocol.md
alone, tested for real.

The package is installed with `npm ci` from its committed lock file when
`node_modules` is missing; its types are generated from the committed
openapi/openapi.json by openapi-typescript and compiled with tsc on every run
(nothing generated is committed). Then:

- its crypto reproduces docs/vectors/v1.json (`node --test`);
- its SRP arithmetic equals srptools' byte for byte, on the quirk case of
  docs/protocol.md section 11 and on random cases;
- against a real `vaultapi serve` on PostgreSQL it registers, logs in (M2
  verified), creates, updates with If-Match, delta-syncs, trashes and purges;
  the Python reference client then logs into that account and decrypts what
  TypeScript encrypted (to the same plaintext bytes it would write itself),
  and TypeScript decrypts an item the Python client made;
- it turns TOTP on, and finishes logins that stop at the second factor (202)
  with a TOTP code it computes (equal to pyotp's) and with a recovery code.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.support.cluster import cluster, fresh_database
from vaultapi import client
from vaultapi.client.vault import Vault
from vaultapi.crypto import encstring, srp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sdk" / "typescript"


def _run(args: list[str], *, stdin: str | None = None, timeout: float = 300) -> str:
    result = subprocess.run(
        args,
        cwd=PACKAGE,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("VAULTAPI_")},
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def built() -> Path:
    """The compiled package (dist/), from the committed lock file and contract."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("Node.js 20 and npm are required for the TypeScript client tests (README)")
    if not (PACKAGE / "node_modules").is_dir():
        _run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"])
    _run([npm, "run", "build"])  # openapi-typescript from openapi/openapi.json, then tsc
    assert (PACKAGE / "src" / "generated" / "api.ts").is_file()
    return PACKAGE / "dist"


def _node(built: Path, script: str, *args: str, stdin: str | None = None) -> Any:
    return json.loads(_run(["node", str(built / "tools" / script), *args], stdin=stdin))


def test_the_typescript_crypto_reproduces_the_vectors(built: Path) -> None:
    output = _run(["node", "--test", str(built / "test" / "vectors.test.js")])
    assert "# fail 0" in output
    assert "# pass 10" in output


def _hash_int(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big")


def test_the_typescript_srp_equals_srptools_byte_for_byte(built: Path) -> None:
    cases = [  # docs/protocol.md section 11: A, B, S and H(I) each with a leading zero byte
        ("user73@example.com", "0" * 64, bytes(16), _hash_int("a85"), _hash_int("b17765"))
    ]
    for _ in range(24):
        cases.append(
            (
                f"user{secrets.randbelow(10**6)}@example.com",
                secrets.token_hex(32),
                secrets.token_bytes(16),
                secrets.randbits(256) | 2,
                secrets.randbits(256) | 2,
            )
        )
    stdin = json.dumps(
        [
            {"I": i, "P": p, "s": s.hex(), "a": format(a, "x"), "b": format(b, "x")}
            for i, p, s, a, b in cases
        ]
    )
    results = _node(built, "srp_cases.js", stdin=stdin)
    assert len(results) == len(cases)
    for (identity, password, salt, a, b), got in zip(cases, results, strict=True):
        verifier = srp.compute_verifier(identity, password, salt)
        start = srp.client_start(private_a=a)
        challenge = srp.server_challenge(verifier, private_b=b)
        proof = srp.client_proof(identity, password, salt, start, challenge.public_B)
        assert got == {
            "verifier": srp.encode_int(verifier),
            "A": srp.encode_int(start.public_A),
            "B": srp.encode_int(challenge.public_B),
            "K": proof.session_key.hex(),
            "M1": proof.M1.hex(),
            "M2": proof.expected_M2.hex(),
        }, identity
        m2 = srp.server_verify(identity, salt, verifier, start.public_A, challenge, proof.M1)
        assert m2 == proof.expected_M2


@pytest.fixture
async def database(workdir: Path) -> AsyncIterator[str]:
    async with fresh_database(workdir) as url:
        yield url


def _python_plaintext(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()


@pytest.mark.slow
async def test_the_typescript_client_against_a_real_server(
    built: Path, workdir: Path, database: str
) -> None:
    email, password = "TS.User@Example.com ", "correct horse \ufb01sh \u212bngstr\u00f6m"
    with cluster(workdir, database, size=1) as deployment:
        base_url = deployment.servers[0].base_url
        account = {"base_url": base_url, "email": email, "password": password}

        # TypeScript: register, login, create, update, stale update, delta sync, delete
        ts = _node(built, "flow.js", "write", json.dumps(account))
        kept, doomed = ts["item_id"], ts["doomed_id"]
        assert ts["stale_update"] == "412 stale_revision"
        assert ts["first_sync"] == {"full": True, "revision": 0}
        assert ts["delta"]["full"] is False
        assert sorted(ts["delta"]["items"]) == sorted([[kept, 2], [doomed, 1]])
        assert ts["after_purge"] == {"full": False, "items": [], "tombstones": [[doomed, "item"]]}
        assert ts["local_items"] == [kept]
        ts_fields = {
            "name": "From TypeScript",
            "password": "changed \u2713 \U0001f511",
            "uri": "https://example.com",
            "username": "ts",
        }
        assert ts["fields"] == ts_fields
        assert ts["revision"] == 2

        # Python: log into the account TypeScript registered, decrypt what it encrypted
        async with deployment.http(0) as http:
            login = await client.login(http, email, password)
            assert str(login.account_id) == ts["account_id"]
            vault = Vault(http, login)
            await vault.sync()
            assert set(vault.items) == {uuid.UUID(kept)}
            item = vault.items[uuid.UUID(kept)]
            assert (item.fields, item.revision, item.type) == (ts_fields, 2, "login")
            # the same plaintext bytes the Python client writes for those fields
            raw = (await http.get(f"/v1/vault/items/{kept}", headers=login.auth_header)).json()
            item_key = encstring.decrypt(login.account_key, raw["key"], kept)
            assert encstring.decrypt(item_key, raw["data"], kept) == _python_plaintext(ts_fields)

            py_fields = {"name": "From Python", "password": "\u00e9t\u00e9 \u2603", "totp": None}
            made = await vault.add(py_fields, type="note")

        # TypeScript: decrypt the item Python made
        back = _node(built, "flow.js", "read", json.dumps({**account, "item_id": str(made.id)}))
        assert back["item_id"] == str(made.id)
        assert (back["fields"], back["type"], back["revision"]) == (py_fields, "note", 1)
        assert back["synced"] == {kept: ts_fields, str(made.id): py_fields}


@pytest.mark.slow
async def test_the_typescript_client_finishes_a_login_with_a_second_factor(
    built: Path, workdir: Path, database: str
) -> None:
    """TypeScript turns TOTP on, sees the login stop at 202, and finishes one
    login with a TOTP code it computes (WebCrypto HMAC-SHA-1) and one with a
    recovery code; its codes equal pyotp's."""
    email, password = "ts.mfa@example.com", "correct horse battery staple"
    at = [0, 59, 1_111_111_109, 1_795_154_539]
    with cluster(workdir, database, size=1) as deployment:
        account = {"email": email, "password": password, "at": at}
        account["base_url"] = deployment.servers[0].base_url
        ts = _node(built, "flow.js", "mfa", json.dumps(account))
        assert ts["pending"] == {"methods": ["totp", "recovery_code"], "attempts_left": 3}
        finished = {"account_id": ts["account_id"], "email": email}
        assert ts["totp_login"] == finished
        assert ts["recovery_login"] == finished
        assert ts["sessions_differ"] is True
        assert ts["recovery_codes"] == 10
        assert ts["codes_at"] == {str(t): pyotp.TOTP(ts["secret"]).at(t) for t in at}

        # The server really holds the factor: the Python client stops at it too.
        async with deployment.http(0) as http:
            with pytest.raises(client.SecondFactorRequired) as stopped:
                await client.login(http, email, password)
            assert stopped.value.pending.methods == ["totp", "recovery_code"]
