"""The reference client's vault against the real app: two devices, one vault."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select, update

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from vaultapi import client
from vaultapi.client.vault import TamperedItemError, Vault
from vaultapi.db.models import VaultItem


@pytest.fixture
async def laptop(client_http: httpx.AsyncClient, alice: Account) -> Vault:
    return Vault(
        client_http, await client.login(client_http, EMAIL, PASSWORD, device_name="laptop")
    )


@pytest.fixture
async def phone(client_http: httpx.AsyncClient, alice: Account) -> Vault:
    return Vault(client_http, await client.login(client_http, EMAIL, PASSWORD, device_name="phone"))


async def test_items_round_trip_and_sync_to_another_device(laptop: Vault, phone: Vault) -> None:
    folder = await laptop.add_folder("Banking")
    bank = await laptop.add({"name": "bank", "password": "s3cret"}, folder_id=folder.id)
    mail = await laptop.add({"name": "mail", "password": "hunter2"})
    assert await phone.sync() == 3
    assert phone.items[bank.id].fields == {"name": "bank", "password": "s3cret"}
    assert phone.folders[folder.id].name == "Banking"

    bank.fields["password"] = "n3w s3cret"
    bank = await laptop.update(bank)
    await laptop.purge(await laptop.trash(mail))
    assert await phone.sync() == 2  # one update, one tombstone: the delta only
    assert phone.items[bank.id].fields["password"] == "n3w s3cret"
    assert mail.id not in phone.items
    assert await phone.sync() == 0


async def test_a_stale_local_copy_is_refused_not_overwritten(laptop: Vault, phone: Vault) -> None:
    item = await laptop.add({"name": "bank"})
    await phone.sync()
    on_phone = phone.items[item.id]
    item.fields["name"] = "laptop's edit"
    await laptop.update(item)
    on_phone.fields["name"] = "phone's edit"
    with pytest.raises(client.ProblemError) as caught:
        await phone.update(on_phone)
    assert caught.value.code == "stale_revision"
    assert (await laptop.get(item.id)).fields["name"] == "laptop's edit"


async def test_a_ciphertext_moved_to_another_item_is_refused(
    client_http: httpx.AsyncClient, laptop: Vault
) -> None:
    """A malicious server copies item A's key and data into item B: the AAD
    (the item id) no longer matches, and the client refuses B."""
    a = await laptop.add({"name": "a", "password": "A's secret"})
    b = await laptop.add({"name": "b", "password": "B's secret"})
    async with runtime_of(client_http).sessionmaker() as session:
        row = (await session.execute(select(VaultItem).where(VaultItem.id == a.id))).scalar_one()  # type: ignore[arg-type]
        await session.execute(
            update(VaultItem)
            .where(VaultItem.id == b.id)  # type: ignore[arg-type]
            .values(key=row.key, data=row.data)
        )
        await session.commit()
    with pytest.raises(TamperedItemError, match=str(b.id)):
        await laptop.get(b.id)
    assert (await laptop.get(a.id)).fields["password"] == "A's secret"


async def test_import_and_export(laptop: Vault, phone: Vault) -> None:
    entries = [("login", {"name": f"site {n}", "password": f"pw{n}"}) for n in range(25)]
    assert await laptop.import_items(entries) == 25
    await phone.sync()
    assert sorted(i.fields["name"] for i in phone.items.values()) == sorted(
        f["name"] for _, f in entries
    )
    exported = await laptop.export()
    assert len(exported["items"]) == 25
    assert all(uuid.UUID(i["id"]) in phone.items for i in exported["items"])


async def test_a_bitwarden_export_arrives_whole_on_another_device(
    laptop: Vault, phone: Vault
) -> None:
    from pathlib import Path

    from vaultapi.client.importers import parse_bitwarden_json

    text = (Path(__file__).parent.parent / "data" / "bitwarden_export.json").read_text()
    parsed = parse_bitwarden_json(text)
    assert await laptop.import_parsed(parsed) == 4
    await phone.sync()
    assert [f.name for f in phone.folders.values()] == ["Banking"]
    by_name = {item.fields["name"]: item for item in phone.items.values()}
    assert by_name["My Bank"].fields == parsed.items[0].fields
    assert by_name["My Bank"].folder_id == next(iter(phone.folders))
    assert by_name["My Bank"].favorite is True
    assert {item.type for item in phone.items.values()} == {"login", "note", "card", "identity"}
