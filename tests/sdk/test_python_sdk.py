"""The contract as a third party uses it: a Python client generated with
openapi-python-client from the committed `openapi/openapi.json`, driving a real
`vaultapi serve` process on PostgreSQL.

Every HTTP call of the flow goes through the generated client; the bytes it
carries are made with `vaultapi.crypto` (the pure functions a third-party
client would reimplement from `docs/protocol.md`), never with the reference
client. The reference client (`vaultapi.client`) is used only at the end, to
check the result: it logs in with the password the SDK registered and decrypts
the item the SDK encrypted.

The client is generated into a temporary directory on every run; nothing
generated is committed. openapi-python-client 0.29.1 requires typer < 0.28,
and this project pins typer 0.29 (the `vault` and `vaultapi` commands), so the
generator cannot live in `.venv`: `make test` installs it into its own venv,
`.venv/sdkgen`, from `constraints-sdkgen.txt`, and this test runs it from
there. The generated code itself needs only httpx and attrs, which `.venv`
has, so it is imported into this process.

The generated `finish_login` is typed to take an `AuthenticatedClient`: the
document says `srp/verify` accepts a bearer token *or none* (`security: [{},
{accessToken: []}]`, the token re-authenticates a session), and
openapi-python-client does not model an optional security requirement yet
(upstream issue #1372). A plain `Client` works at run time, and that is what a
login, which has no token yet, passes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import os
import pkgutil
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tests.support.servers import RunningServer, running_server
from vaultapi import client as reference
from vaultapi.client.vault import Vault
from vaultapi.crypto import encstring, srp
from vaultapi.crypto.kdf import (
    KDF_SALT_BYTES,
    MINIMUM_KDF,
    KdfParams,
    derive_master_key,
    derive_subkeys,
    normalize_email,
    srp_password,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"
GENERATOR_BIN = Path(sys.prefix) / "sdkgen" / "bin"
PACKAGE = "vaultapi_client"

PASSWORD = "correct horse battery staple"
# docs/protocol.md section 4 (and Appendix A): the AADs of the wrapped account keys.
ACCOUNT_KEY_AAD = "vaultapi/v1/account-key"
PRIVATE_KEY_AAD = "vaultapi/v1/private-key"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported; generation warnings fail the test (a
    warning means part of the contract did not make it into the client)."""
    generator = GENERATOR_BIN / "openapi-python-client"
    if not generator.exists():
        pytest.fail(
            f"{generator} is missing: `make test` installs openapi-python-client into "
            "its own venv (.venv/sdkgen, from constraints-sdkgen.txt)"
        )
    out = tmp_path_factory.mktemp("sdk") / "generated"
    result = subprocess.run(
        [str(generator), "generate", "--path", str(DOCUMENT), "--output-path", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # Its post-generation hooks run `ruff`: the generator venv's own.
        env={**os.environ, "PATH": f"{GENERATOR_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "warning" not in report.lower(), report
    assert not (ROOT / PACKAGE).exists()  # generated where we said, not into the tree

    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, postgresql_url: str
) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("sdk-server")
    with running_server(workdir, env={"VAULTAPI_DATABASE_URL": postgresql_url}) as running:
        yield running


@pytest.fixture
def closing() -> Iterator[contextlib.ExitStack]:
    """Closes the generated clients (their httpx connection pools) after the test."""
    with contextlib.ExitStack() as stack:
        yield stack


def _api(sdk: ModuleType, path: str) -> Any:
    """One generated operation module, e.g. `_api(sdk, "vault.create_item")`."""
    return importlib.import_module(f"{sdk.__name__}.api.{path}")


def _models(sdk: ModuleType) -> Any:
    return importlib.import_module(f"{sdk.__name__}.models")


def _ok(response: Any, status: int) -> Any:
    """The parsed body of a response that must have `status`."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.parsed


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _register(sdk: ModuleType, anonymous: Any, email: str, kdf: KdfParams) -> bytes:
    """docs/protocol.md 5.1 with vaultapi.crypto; returns the account key."""
    models = _models(sdk)
    kdf_salt = secrets.token_bytes(KDF_SALT_BYTES)
    subkeys = derive_subkeys(derive_master_key(PASSWORD, kdf_salt, kdf))
    srp_salt = secrets.token_bytes(srp.SRP_SALT_BYTES)
    verifier = srp.compute_verifier(
        normalize_email(email), srp_password(subkeys.auth_key), srp_salt
    )
    account_key = secrets.token_bytes(32)
    private_key = X25519PrivateKey.generate()
    public_raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    private_raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    body = models.RegisterRequest(
        email=email,
        kdf=models.KdfParameters(
            memory_kib=kdf.memory_kib,
            iterations=kdf.iterations,
            parallelism=kdf.parallelism,
            salt=kdf_salt.hex(),
        ),
        srp=models.SRPRegistration(salt=srp_salt.hex(), verifier=srp.encode_int(verifier)),
        keys=models.AccountKeys(
            protected_account_key=encstring.encrypt(subkeys.wrap_key, account_key, ACCOUNT_KEY_AAD),
            public_key=_b64url(public_raw),
            protected_private_key=encstring.encrypt(account_key, private_raw, PRIVATE_KEY_AAD),
        ),
    )
    registered = _ok(_api(sdk, "auth.register").sync_detailed(client=anonymous, body=body), 201)
    assert isinstance(registered, models.RegisterResponse)
    assert registered.email == email
    return account_key


def _srp_login(sdk: ModuleType, anonymous: Any, email: str, password: str) -> tuple[Any, bytes]:
    """SRP start and verify (docs/protocol.md 7.3, 7.4); checks M2 on success.
    Returns the parsed verify answer (SRPVerifyResponse, or a Problem) and the
    wrap key derived on the way."""
    models = _models(sdk)
    start = srp.client_start()
    challenge = _ok(
        _api(sdk, "auth.start_login").sync_detailed(
            client=anonymous,
            body=models.SRPStartRequest(email=email, a=srp.encode_int(start.public_A)),
        ),
        200,
    )
    assert isinstance(challenge, models.SRPStartResponse)
    kdf = challenge.kdf
    assert kdf.algorithm == "argon2id"
    params = KdfParams(
        memory_kib=kdf.memory_kib, iterations=kdf.iterations, parallelism=kdf.parallelism
    )
    subkeys = derive_subkeys(derive_master_key(password, bytes.fromhex(kdf.salt), params))
    proof = srp.client_proof(
        normalize_email(email),
        srp_password(subkeys.auth_key),
        bytes.fromhex(challenge.srp_salt),
        start,
        srp.parse_group_element(challenge.b, name="B"),
    )
    verify = _api(sdk, "auth.finish_login").sync_detailed(
        client=anonymous,
        body=models.SRPVerifyRequest(
            handshake_id=challenge.handshake_id, m1=proof.M1.hex(), device_name="sdk test"
        ),
    )
    answer = verify.parsed
    if verify.status_code == 200:
        assert isinstance(answer, models.SRPVerifyResponse)
        srp.verify_server_proof(proof, srp.parse_proof(answer.m2))  # the server knows our verifier
    return answer, subkeys.wrap_key


def _seal(account_key: bytes, item_id: uuid.UUID, fields: dict[str, Any]) -> tuple[str, str]:
    """A fresh item key wrapped under the account key, and the item under the item
    key, both with the item id as AAD (docs/protocol.md 5.3)."""
    item_key = secrets.token_bytes(32)
    plaintext = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return (
        encstring.encrypt(account_key, item_key, str(item_id)),
        encstring.encrypt(item_key, plaintext, str(item_id)),
    )


def _unseal(account_key: bytes, item: Any) -> dict[str, Any]:
    item_key = encstring.decrypt(account_key, item.key, str(item.id))
    fields: dict[str, Any] = json.loads(encstring.decrypt(item_key, item.data, str(item.id)))
    return fields


def test_every_generated_module_imports(sdk: ModuleType) -> None:
    """All operations and models, not just the ones the flow below uses."""
    names = [info.name for info in pkgutil.walk_packages(sdk.__path__, prefix=f"{sdk.__name__}.")]
    for name in names:
        importlib.import_module(name)
    # api.<tag>.<operation>: one module per operation of the document
    operations = [n for n in names if n.startswith(f"{sdk.__name__}.api.") and n.count(".") == 3]
    document = json.loads(DOCUMENT.read_text())
    assert len(operations) == sum(len(item) for item in document["paths"].values())


def test_generated_model_names_read_well(sdk: ModuleType) -> None:
    """An inline enum or union member gets a made-up name (`...StatusType0`):
    the contract names its enums as schemas so SDK users get `AccountStatus`."""
    names = [name for name in dir(_models(sdk)) if name[:1].isupper()]
    assert [name for name in names if re.search(r"Type\d+$", name)] == []
    assert {"AccountStatus", "AuthOutcome", "ItemType"} <= set(names)


def _etag(response: Any) -> str:
    etag: str = response.headers["etag"]
    return etag


def test_generated_client_registers_logs_in_and_keeps_a_vault(
    sdk: ModuleType, server: RunningServer, closing: contextlib.ExitStack
) -> None:
    models = _models(sdk)
    vault = "vault."
    email = f"sdk-{uuid.uuid4().hex[:12]}@example.com"
    anonymous = closing.enter_context(
        sdk.Client(base_url=server.base_url, raise_on_unexpected_status=True)
    )

    # -- register and log in ------------------------------------------------------------
    account_key = _register(sdk, anonymous, email, MINIMUM_KDF)

    wrong, _ = _srp_login(sdk, anonymous, email, "not the password")
    assert isinstance(wrong, models.Problem)
    assert (wrong.status, wrong.code) == (401, "invalid_credentials")

    login, wrap_key = _srp_login(sdk, anonymous, email, PASSWORD)
    assert isinstance(login, models.SRPVerifyResponse)
    assert login.token_type == "Bearer"
    unwrapped = encstring.decrypt(wrap_key, login.keys.protected_account_key, ACCOUNT_KEY_AAD)
    assert unwrapped == account_key
    authed = closing.enter_context(
        sdk.AuthenticatedClient(
            base_url=server.base_url, token=login.access_token, raise_on_unexpected_status=True
        )
    )

    # -- create, then a full sync for the cursor ---------------------------------------
    item_id = uuid.uuid4()
    key, data = _seal(account_key, item_id, {"username": "ada", "password": "first"})
    created_response = _api(sdk, vault + "create_item").sync_detailed(
        client=authed,
        body=models.ItemCreate(id=item_id, type_=models.ItemType.LOGIN, key=key, data=data),
    )
    created = _ok(created_response, 201)
    assert isinstance(created, models.Item)
    assert (created.id, created.type_, created.deleted_at) == (item_id, "login", None)
    assert _etag(created_response) == f'"{created.revision}"'
    assert _unseal(account_key, created) == {"username": "ada", "password": "first"}

    full = _ok(_api(sdk, vault + "sync_vault").sync_detailed(client=authed), 200)
    assert isinstance(full, models.Sync)
    assert full.full
    assert [item.id for item in full.items] == [item_id]
    cursor = full.revision

    # -- update with If-Match; a stale If-Match is refused ------------------------------
    key, data = _seal(account_key, item_id, {"username": "ada", "password": "second"})
    changed = models.ItemFields(type_=models.ItemType.LOGIN, key=key, data=data, favorite=True)
    update = _api(sdk, vault + "update_item")
    updated = _ok(
        update.sync_detailed(
            item_id, client=authed, body=changed, if_match=_etag(created_response)
        ),
        200,
    )
    assert isinstance(updated, models.Item)
    assert updated.revision > created.revision
    assert updated.favorite
    assert _unseal(account_key, updated) == {"username": "ada", "password": "second"}

    stale = _ok(
        update.sync_detailed(
            item_id, client=authed, body=changed, if_match=_etag(created_response)
        ),
        412,
    )
    assert isinstance(stale, models.Problem)
    assert stale.code == "stale_revision"

    # -- delta sync from the cursor: only the update --------------------------------------
    delta = _ok(_api(sdk, vault + "sync_vault").sync_detailed(client=authed, since=cursor), 200)
    assert not delta.full
    assert [(item.id, item.revision) for item in delta.items] == [(item_id, updated.revision)]
    assert _unseal(account_key, delta.items[0])["password"] == "second"
    assert delta.tombstones == []
    cursor = delta.revision

    # -- a second item that stays, for the reference client to read back ---------------
    note_id = uuid.uuid4()
    key, data = _seal(account_key, note_id, {"text": "written by the generated SDK"})
    _ok(
        _api(sdk, vault + "create_item").sync_detailed(
            client=authed,
            body=models.ItemCreate(id=note_id, type_=models.ItemType.NOTE, key=key, data=data),
        ),
        201,
    )

    # -- trash, then purge (each with If-Match) -----------------------------------------
    trashed = _ok(
        _api(sdk, vault + "trash_item").sync_detailed(
            item_id, client=authed, if_match=f'"{updated.revision}"'
        ),
        200,
    )
    assert trashed.deleted_at is not None
    delta = _ok(_api(sdk, vault + "sync_vault").sync_detailed(client=authed, since=cursor), 200)
    assert {item.id: item.deleted_at is not None for item in delta.items} == {
        item_id: True,
        note_id: False,
    }
    cursor = delta.revision

    _ok(
        _api(sdk, vault + "purge_item").sync_detailed(
            item_id, client=authed, if_match=f'"{trashed.revision}"'
        ),
        204,
    )
    delta = _ok(_api(sdk, vault + "sync_vault").sync_detailed(client=authed, since=cursor), 200)
    assert delta.items == []
    assert [(t.id, t.kind) for t in delta.tombstones] == [(item_id, "item")]
    gone = _ok(_api(sdk, vault + "get_item").sync_detailed(item_id, client=authed), 404)
    assert gone.code == "not_found"

    # -- afterwards, the reference client reads what the SDK wrote ------------------------
    async def read_back() -> dict[uuid.UUID, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            reference_login = await reference.login(http, email, PASSWORD)
            assert reference_login.account_key == account_key
            local = Vault(http, reference_login)
            await local.sync()
            return {item.id: item.fields for item in local.items.values()}

    assert asyncio.run(read_back()) == {note_id: {"text": "written by the generated SDK"}}
