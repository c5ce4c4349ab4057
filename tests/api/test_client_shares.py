"""The reference client's shares against the real app."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from vaultapi import client
from vaultapi.client import Share, TamperedShareError
from vaultapi.crypto import share as share_crypto
from vaultapi.db.models import Share as ShareRow


@pytest.fixture
async def login(client_http: httpx.AsyncClient, alice: Account) -> client.Login:
    return await client.login(client_http, EMAIL, PASSWORD)


async def test_plain_share_round_trip(client_http: httpx.AsyncClient, login: client.Login) -> None:
    created = await Share.create(
        client_http, login, "s3cret \u2713", ttl=timedelta(minutes=5), views=2
    )
    assert created.link.startswith(f"http://testserver/v1/shares/{created.id}#v1.")
    assert created.info.state == "active"
    assert created.expires_at - created.info.created_at == timedelta(minutes=5)
    assert await Share.open(created.link, http=client_http) == "s3cret \u2713"
    listed = await Share.list(client_http, login)
    assert [(s.id, s.views_left) for s in listed] == [(created.id, 1)]
    revoked = await Share.revoke(client_http, login, created.id)
    assert revoked.state == "revoked"
    with pytest.raises(client.ProblemError) as gone:
        await Share.open(created.link, http=client_http)
    assert (gone.value.status, gone.value.code) == (410, "share_gone")


async def test_passphrase_share(client_http: httpx.AsyncClient, login: client.Login) -> None:
    created = await Share.create(client_http, login, "pin 1234", ttl=5, views=2, passphrase="tulip")
    assert created.link.endswith(".p")
    assert created.info.protected
    with pytest.raises(client.ClientError, match="passphrase"):
        await Share.open(created.link, http=client_http)  # refused before any request
    with pytest.raises(client.ProblemError) as wrong:
        await Share.open(created.link, "tulips", http=client_http)
    assert wrong.value.code == "invalid_access_proof"
    assert await Share.open(created.link, "tulip", http=client_http) == "pin 1234"
    # A link whose ".p" was cut off still opens when the passphrase is given.
    cut = created.link.removesuffix(".p")
    assert cut != created.link
    assert await Share.open(cut, "tulip", http=client_http) == "pin 1234"


async def test_tampered_ciphertext_is_detected(
    client_http: httpx.AsyncClient, login: client.Login
) -> None:
    created = await Share.create(client_http, login, "the real secret", views=3)
    other = await Share.create(client_http, login, "another secret", views=3)
    link = share_crypto.parse_link(created.link)
    keys = share_crypto.derive_keys(link.share_key)
    genuine = share_crypto.seal(keys, created.id, b"the real secret")
    body = genuine.split(".")
    altered = ".".join([body[0], body[1], ("B" if body[2][0] == "A" else "A") + body[2][1:]])
    moved = share_crypto.seal(keys, other.id, b"a secret for another share")
    for bad in (altered, moved):
        async with runtime_of(client_http).sessionmaker() as session:
            await session.execute(
                update(ShareRow).where(ShareRow.id == created.id).values(ciphertext=bad)  # type: ignore[arg-type]
            )
            await session.commit()
        with pytest.raises(TamperedShareError):
            await Share.open(created.link, http=client_http)


async def test_links_and_inputs_are_checked(
    client_http: httpx.AsyncClient, login: client.Login
) -> None:
    with pytest.raises(client.ClientError, match="not a share link"):
        await Share.open(f"http://testserver/v1/shares/{uuid.uuid4()}", http=client_http)
    with pytest.raises(client.ClientError):
        await Share.create(client_http, login, "x", ttl=timedelta(seconds=30))
    with pytest.raises(client.ClientError):
        await Share.create(client_http, login, "x", passphrase="")
    with pytest.raises(client.ProblemError) as too_long:
        await Share.create(client_http, login, "x", ttl=timedelta(days=400))
    assert too_long.value.code == "share_out_of_range"
