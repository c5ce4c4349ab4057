"""Requests and responses of `/v1/vault`. Item `key` and `data` and folder
`name` are EncStrings the server checks for shape and size only."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vaultapi.schemas.auth import KdfParameters


class ItemType(StrEnum):
    """Grows with the product; a client must keep unknown types it syncs."""

    LOGIN = "login"
    NOTE = "note"
    CARD = "card"
    IDENTITY = "identity"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemFields(Strict):
    type: ItemType
    key: str = Field(description="EncString: the item key under the account key, aad = item id")
    data: str = Field(description="EncString: the item's JSON under the item key, aad = item id")
    folder_id: uuid.UUID | None = None
    favorite: bool = False


class ItemCreate(ItemFields):
    id: uuid.UUID = Field(description="Chosen by the client (it is bound into the AAD)")


class Item(BaseModel):
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
    revision: int
    type: str
    key: str
    data: str
    folder_id: uuid.UUID | None
    favorite: bool
    replaced_at: datetime


class ItemHistory(BaseModel):
    versions: list[ItemVersion] = Field(description="Newest first")


class ItemPage(BaseModel):
    items: list[Item]
    next_after: uuid.UUID | None = Field(description="Pass as `after` for the next page")


class FolderFields(Strict):
    name: str = Field(description="EncString of the folder name")


class FolderCreate(FolderFields):
    id: uuid.UUID


class Folder(BaseModel):
    id: uuid.UUID
    name: str
    revision: int
    created_at: datetime
    updated_at: datetime


class FolderList(BaseModel):
    folders: list[Folder]


class Tombstone(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="`item` or `folder` (more kinds may come: skip others)")


class Sync(BaseModel):
    revision: int = Field(description="The cursor: pass it as `since` next time")
    full: bool = Field(description="True when this is the whole vault, not a delta")
    items: list[Item]
    folders: list[Folder]
    tombstones: list[Tombstone] = Field(description="Purged for good since `since`")


class ImportRequest(Strict):
    """Folders and items made by the client (ids chosen, already encrypted)."""

    folders: list[FolderCreate] = []
    items: list[ItemCreate] = []


class ImportResult(BaseModel):
    folders: int
    items: int
    revision: int = Field(description="The vault revision of the whole import")


class ExportAccount(BaseModel):
    """What a client needs to decrypt this file later with the password alone."""

    email: str
    kdf: KdfParameters
    protected_account_key: str


class Export(BaseModel):
    format: Literal["vaultapi/v1"] = "vaultapi/v1"
    exported_at: datetime
    revision: int
    account: ExportAccount
    folders: list[Folder]
    items: list[Item] = Field(description="All items, trash included (see deleted_at)")
