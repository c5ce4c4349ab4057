"""Requests and responses of `/v1/vault`. Item `key` and `data` and folder
`name` are EncStrings the server checks for shape and size only."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vaultapi.schemas import examples as ex
from vaultapi.schemas.auth import KdfParameters
from vaultapi.schemas.examples import example_config

_ITEM_FIELDS = {
    "type": "login",
    "key": ex.ITEM_KEY,
    "data": ex.ITEM_DATA,
    "folder_id": ex.FOLDER_ID,
    "favorite": False,
}
_ITEM_CREATE = {**_ITEM_FIELDS, "id": ex.ITEM_ID}
_ITEM = {
    **_ITEM_CREATE,
    "revision": 3,
    "created_at": ex.CREATED_AT,
    "updated_at": ex.UPDATED_AT,
    "deleted_at": None,
}
_FOLDER_CREATE = {"name": ex.FOLDER_NAME, "id": ex.FOLDER_ID}
_FOLDER = {
    **_FOLDER_CREATE,
    "revision": 1,
    "created_at": ex.CREATED_AT,
    "updated_at": ex.CREATED_AT,
}
_VERSION = {
    "revision": 2,
    "type": "login",
    "key": ex.ITEM_KEY,
    "data": ex.ITEM_DATA,
    "folder_id": None,
    "favorite": False,
    "replaced_at": ex.UPDATED_AT,
}


class ItemType(StrEnum):
    """Grows with the product; a client must keep unknown types it syncs."""

    LOGIN = "login"
    NOTE = "note"
    CARD = "card"
    IDENTITY = "identity"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemFields(Strict):
    model_config = example_config(_ITEM_FIELDS)

    type: ItemType
    key: str = Field(description="EncString: the item key under the account key, aad = item id")
    data: str = Field(description="EncString: the item's JSON under the item key, aad = item id")
    folder_id: uuid.UUID | None = None
    favorite: bool = False


class ItemCreate(ItemFields):
    model_config = example_config(_ITEM_CREATE)

    id: uuid.UUID = Field(description="Chosen by the client (it is bound into the AAD)")


class Item(BaseModel):
    model_config = example_config(_ITEM)

    id: uuid.UUID
    type: str
    key: str
    data: str
    folder_id: uuid.UUID | None
    favorite: bool
    revision: int = Field(description="+1 on every change; the ETag is this number in quotes")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = Field(description="In the trash since; null when not")


class ItemVersion(BaseModel):
    model_config = example_config(_VERSION)

    revision: int
    type: str
    key: str
    data: str
    folder_id: uuid.UUID | None
    favorite: bool
    replaced_at: datetime


class ItemHistory(BaseModel):
    model_config = example_config({"versions": [_VERSION]})

    versions: list[ItemVersion] = Field(description="Newest first")


class ItemPage(BaseModel):
    model_config = example_config({"items": [_ITEM], "next_after": ex.ITEM_ID})

    items: list[Item]
    next_after: uuid.UUID | None = Field(description="Pass as `after` for the next page")


class FolderFields(Strict):
    model_config = example_config({"name": ex.FOLDER_NAME})

    name: str = Field(description="EncString of the folder name")


class FolderCreate(FolderFields):
    model_config = example_config(_FOLDER_CREATE)

    id: uuid.UUID


class Folder(BaseModel):
    model_config = example_config(_FOLDER)

    id: uuid.UUID
    name: str
    revision: int
    created_at: datetime
    updated_at: datetime


class FolderList(BaseModel):
    model_config = example_config({"folders": [_FOLDER]})

    folders: list[Folder]


class Tombstone(BaseModel):
    model_config = example_config({"id": "e1d2c3b4-a596-4877-8685-949392919089", "kind": "item"})

    id: uuid.UUID
    kind: str = Field(description="`item` or `folder` (more kinds may come: skip others)")


class Sync(BaseModel):
    model_config = example_config(
        {
            "revision": 42,
            "full": False,
            "items": [_ITEM],
            "folders": [_FOLDER],
            "tombstones": [{"id": "e1d2c3b4-a596-4877-8685-949392919089", "kind": "item"}],
        }
    )

    revision: int = Field(description="The cursor: pass it as `since` next time")
    full: bool = Field(description="True when this is the whole vault, not a delta")
    items: list[Item]
    folders: list[Folder]
    tombstones: list[Tombstone] = Field(description="Purged for good since `since`")


class ImportRequest(Strict):
    """Folders and items made by the client (ids chosen, already encrypted)."""

    model_config = example_config({"folders": [_FOLDER_CREATE], "items": [_ITEM_CREATE]})

    folders: list[FolderCreate] = []
    items: list[ItemCreate] = []


class ImportResult(BaseModel):
    model_config = example_config({"folders": 1, "items": 1, "revision": 43})

    folders: int
    items: int
    revision: int = Field(description="The vault revision of the whole import")


class ExportAccount(BaseModel):
    """What a client needs to decrypt this file later with the password alone."""

    model_config = example_config(
        {"email": ex.EMAIL, "kdf": ex.KDF, "protected_account_key": ex.PROTECTED_ACCOUNT_KEY}
    )

    email: str
    kdf: KdfParameters
    protected_account_key: str


class Export(BaseModel):
    model_config = example_config(
        {
            "format": "vaultapi/v1",
            "exported_at": ex.LATER,
            "revision": 42,
            "account": {
                "email": ex.EMAIL,
                "kdf": ex.KDF,
                "protected_account_key": ex.PROTECTED_ACCOUNT_KEY,
            },
            "folders": [_FOLDER],
            "items": [_ITEM],
        }
    )

    format: Literal["vaultapi/v1"] = "vaultapi/v1"
    exported_at: datetime
    revision: int
    account: ExportAccount
    folders: list[Folder]
    items: list[Item] = Field(description="All items, trash included (see deleted_at)")
