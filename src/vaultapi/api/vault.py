"""`/v1/vault`: items, folders, trash, history and delta sync.

Optimistic concurrency with HTTP's own tools: every item and folder response
carries `ETag: "<revision>"`; updates, deletes, restores and purges must send
`If-Match` with it (428 without, 412 `stale_revision` when it is old). Sync
answers `ETag: "<vault revision>"`, and `If-None-Match` with it gets a 304.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import TypeAdapter

from vaultapi.api.deps import (
    BearerTokenDep,
    CurrentDep,
    ReaderDep,
    ReadingCallerDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    WriterDep,
    WritingCallerDep,
)
from vaultapi.api.presenters import account_kdf
from vaultapi.api.responses import ETAG, LOCATION, SYNC_ETAG, problem_responses, with_headers
from vaultapi.db.direct import Db, Row
from vaultapi.db.models import VaultFolder, VaultItem, VaultItemVersion
from vaultapi.db.repositories.vault import ITEM_COLUMNS, VaultReader
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    AccountDisabled,
    BadRequest,
    InvalidCiphertext,
    InvalidToken,
    ItemExists,
    LimitReached,
    NotFound,
    PreconditionRequired,
    StaleRevision,
    Unauthorized,
    ValidationFailed,
)
from vaultapi.schemas import vault as schemas
from vaultapi.services.vault import ItemWriter, VaultService, read_item, read_sync

router = APIRouter(prefix="/vault", tags=["vault"])

AUTH = (Unauthorized, InvalidToken, AccountDisabled)
_ETAG = re.compile(r'^(?:W/)?"(\d{1,18})"$')


async def get_vault(
    current: CurrentDep, session: SessionDep, settings: SettingsDep
) -> VaultService:
    return VaultService(session, settings.vault, current.account.id)


VaultDep = Annotated[VaultService, Depends(get_vault)]


async def expected_revision(
    if_match: Annotated[
        str | None,
        Header(description='The revision the change is based on: the ETag, e.g. `"3"`'),
    ] = None,
) -> int:
    if if_match is None:
        raise PreconditionRequired('Send If-Match with the object\'s ETag (e.g. "3")')
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise BadRequest('If-Match must be one ETag like "3"')
    return int(match.group(1))


ExpectedDep = Annotated[int, Depends(expected_revision)]


_SYNC = TypeAdapter(schemas.Sync)
_ITEM = TypeAdapter(schemas.Item)


def _item_response(
    row: Row, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """An item's row as the JSON of `schemas.Item`, validated and serialized
    once in pydantic-core (the bytes the response model would give), with
    its ETag."""
    item = {name: row[name] for name in ITEM_COLUMNS}
    return Response(
        _ITEM.dump_json(_ITEM.validate_python(item)),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": f'"{row["revision"]}"', **(headers or {})},
    )


async def get_item_writer(
    caller: WritingCallerDep, db: WriterDep, settings: SettingsDep
) -> ItemWriter:
    """Item writes on the direct path (`vaultapi.db.direct`): no ORM session."""
    return ItemWriter(db, settings.vault, caller.account_id)


ItemWriterDep = Annotated[ItemWriter, Depends(get_item_writer)]


def _etag(response: Response, revision: int) -> None:
    response.headers["ETag"] = f'"{revision}"'


def item_out(item: VaultItem) -> schemas.Item:
    return schemas.Item(
        id=item.id,
        type=item.type,
        key=item.key,
        data=item.data,
        folder_id=item.folder_id,
        favorite=item.favorite,
        revision=item.revision,
        created_at=item.created_at,
        updated_at=item.updated_at,
        deleted_at=item.deleted_at,
    )


def folder_out(folder: VaultFolder) -> schemas.Folder:
    return schemas.Folder(
        id=folder.id,
        name=folder.name,
        revision=folder.revision,
        created_at=folder.created_at,
        updated_at=folder.updated_at,
    )


def version_out(version: VaultItemVersion) -> schemas.ItemVersion:
    return schemas.ItemVersion(
        revision=version.revision,
        type=version.type,
        key=version.key,
        data=version.data,
        folder_id=version.folder_id,
        favorite=version.favorite,
        replaced_at=version.replaced_at,
    )


WRITE_ERRORS = (*AUTH, NotFound, InvalidCiphertext, ValidationFailed)
CHANGE_ERRORS = (*WRITE_ERRORS, PreconditionRequired, StaleRevision, BadRequest)


# -- items ---------------------------------------------------------------------


@router.get(
    "/items",
    operation_id="listItems",
    summary="A page of items, ordered by id (trash apart)",
    responses=problem_responses(*AUTH, ValidationFailed),
)
async def list_items(
    vault: VaultDep,
    after: Annotated[uuid.UUID | None, Query(description="Last id of the previous page")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (capped by the server)")
    ] = None,
    trashed: Annotated[bool, Query(description="List the trash instead")] = False,
) -> schemas.ItemPage:
    size = min(limit or vault.settings.page_size, vault.settings.max_page_size)
    items = await vault.page(after=after, limit=size, trashed=trashed)
    return schemas.ItemPage(
        items=[item_out(item) for item in items],
        next_after=items[-1].id if len(items) == size else None,
    )


@router.post(
    "/items",
    operation_id="createItem",
    summary="Add an item (the client chooses its id)",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Item,
    responses={
        **with_headers(201, ETAG, LOCATION),
        **problem_responses(*WRITE_ERRORS, ItemExists, LimitReached),
    },
)
async def create_item(body: schemas.ItemCreate, items: ItemWriterDep, request: Request) -> Response:
    row = await items.create(body)
    location = str(request.url_for("get_item", item_id=row["id"]).path)
    return _item_response(row, status.HTTP_201_CREATED, {"Location": location})


@router.get(
    "/items/{item_id}",
    operation_id="getItem",
    summary="One item, with its revision as ETag",
    response_model=schemas.Item,
    responses={**with_headers(200, ETAG), **problem_responses(*AUTH, NotFound, ValidationFailed)},
)
async def get_item(
    item_id: uuid.UUID, token: BearerTokenDep, runtime: RuntimeDep, request: Request
) -> Response:
    # The hottest route: one direct statement (no ORM session, no transaction;
    # the connection held by a `with`, cheaper than a generator dependency)
    # and the row validated and serialized once, in pydantic-core.
    async with Db.reading(runtime.engine) as db:
        row = await read_item(db, runtime, token, item_id)
    request.state.account_id = str(row["session_account_id"])  # for the access log line
    return _item_response(row)


@router.put(
    "/items/{item_id}",
    operation_id="updateItem",
    summary="Replace an item's fields (If-Match: its current ETag)",
    response_model=schemas.Item,
    responses={**with_headers(200, ETAG), **problem_responses(*CHANGE_ERRORS)},
)
async def update_item(
    item_id: uuid.UUID, body: schemas.ItemFields, expected: ExpectedDep, items: ItemWriterDep
) -> Response:
    return _item_response(await items.update(item_id, expected, body))


@router.delete(
    "/items/{item_id}",
    operation_id="trashItem",
    summary="Move an item to the trash (If-Match)",
    response_model=schemas.Item,
    responses={**with_headers(200, ETAG), **problem_responses(*CHANGE_ERRORS)},
)
async def trash_item(item_id: uuid.UUID, expected: ExpectedDep, items: ItemWriterDep) -> Response:
    return _item_response(await items.trash(item_id, expected))


@router.post(
    "/items/{item_id}/restore",
    operation_id="restoreItem",
    summary="Bring an item back from the trash (If-Match)",
    response_model=schemas.Item,
    responses={**with_headers(200, ETAG), **problem_responses(*CHANGE_ERRORS)},
)
async def restore_item(item_id: uuid.UUID, expected: ExpectedDep, items: ItemWriterDep) -> Response:
    return _item_response(await items.restore(item_id, expected))


@router.post(
    "/items/{item_id}/purge",
    operation_id="purgeItem",
    summary="Delete an item and its history for good (If-Match)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*CHANGE_ERRORS),
)
async def purge_item(item_id: uuid.UUID, expected: ExpectedDep, vault: VaultDep) -> Response:
    await vault.purge_item(item_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/items/{item_id}/history",
    operation_id="getItemHistory",
    summary="Previous versions of an item, newest first",
    responses=problem_responses(*AUTH, NotFound, ValidationFailed),
)
async def item_history(item_id: uuid.UUID, vault: VaultDep) -> schemas.ItemHistory:
    return schemas.ItemHistory(versions=[version_out(v) for v in await vault.history(item_id)])


# -- folders -------------------------------------------------------------------


@router.get(
    "/folders",
    operation_id="listFolders",
    summary="All folders",
    responses=problem_responses(*AUTH),
)
async def list_folders(vault: VaultDep) -> schemas.FolderList:
    return schemas.FolderList(folders=[folder_out(f) for f in await vault.folders()])


@router.post(
    "/folders",
    operation_id="createFolder",
    summary="Add a folder (the client chooses its id)",
    status_code=status.HTTP_201_CREATED,
    responses={
        **with_headers(201, ETAG),
        **problem_responses(*WRITE_ERRORS, ItemExists, LimitReached),
    },
)
async def create_folder(
    body: schemas.FolderCreate, vault: VaultDep, response: Response
) -> schemas.Folder:
    folder = await vault.create_folder(body)
    _etag(response, folder.revision)
    return folder_out(folder)


@router.put(
    "/folders/{folder_id}",
    operation_id="renameFolder",
    summary="Rename a folder (If-Match)",
    responses={**with_headers(200, ETAG), **problem_responses(*CHANGE_ERRORS)},
)
async def rename_folder(
    folder_id: uuid.UUID,
    body: schemas.FolderFields,
    expected: ExpectedDep,
    vault: VaultDep,
    response: Response,
) -> schemas.Folder:
    folder = await vault.rename_folder(folder_id, expected, body)
    _etag(response, folder.revision)
    return folder_out(folder)


@router.delete(
    "/folders/{folder_id}",
    operation_id="deleteFolder",
    summary="Delete a folder; its items move to no folder (If-Match)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*CHANGE_ERRORS),
)
async def delete_folder(folder_id: uuid.UUID, expected: ExpectedDep, vault: VaultDep) -> Response:
    await vault.delete_folder(folder_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- bulk ----------------------------------------------------------------------


@router.post(
    "/import",
    operation_id="importVault",
    summary="Add many folders and items at once: all or nothing",
    description="Body limit: `http.max_import_body_bytes` (default 96 MiB), not the general one.",
    responses=problem_responses(*WRITE_ERRORS, ItemExists, LimitReached, BadRequest),
)
async def import_vault(body: schemas.ImportRequest, vault: VaultDep) -> schemas.ImportResult:
    folders, items, revision = await vault.import_all(body)
    return schemas.ImportResult(folders=folders, items=items, revision=revision)


@router.get(
    "/export",
    operation_id="exportVault",
    summary="Everything, still encrypted, with what the password needs to open it",
    responses=problem_responses(*AUTH),
)
async def export_vault(vault: VaultDep, current: CurrentDep) -> schemas.Export:
    result = await vault.sync(None)
    items = [schemas.Item.model_validate(dict(row)) for row in result.items]
    account = current.account
    return schemas.Export(
        exported_at=utcnow(),
        revision=result.revision,
        account=schemas.ExportAccount(
            email=account.email,
            kdf=account_kdf(account),
            protected_account_key=account.protected_account_key,
        ),
        folders=[schemas.Folder.model_validate(dict(f)) for f in result.folders],
        items=items,
    )


# -- sync ----------------------------------------------------------------------


@router.get(
    "/sync",
    operation_id="syncVault",
    summary="Everything changed since a cursor (or everything), and the new cursor",
    response_model=schemas.Sync,
    responses={
        **with_headers(200, SYNC_ETAG),
        304: {
            "description": "Nothing changed since the ETag sent in If-None-Match",
            "headers": SYNC_ETAG,
        },
        **problem_responses(*AUTH, ValidationFailed),
    },
)
async def sync(
    caller: ReadingCallerDep,
    db: ReaderDep,
    since: Annotated[
        int | None, Query(ge=0, description="The `revision` of the previous sync")
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> schemas.Sync | Response:
    # A hot path too (every client polls it): direct database access, no ORM.
    reader = VaultReader(db)
    if if_none_match is not None:  # only a conditional poll needs the revision up front
        etag = f'"{await reader.revision(caller.account_id)}"'
        if etag in [tag.strip() for tag in if_none_match.split(",")]:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    result = await read_sync(reader, caller.account_id, since)
    body = {
        "revision": result.revision,
        "full": result.full,
        "items": [dict(row) for row in result.items],
        "folders": [dict(row) for row in result.folders],
        "tombstones": [dict(row) for row in result.tombstones],
    }
    # Validated and serialized once, in pydantic-core, straight to bytes: the
    # default path would build a model per item and then validate them again.
    return Response(
        _SYNC.dump_json(_SYNC.validate_python(body)),
        media_type="application/json",
        headers={"ETag": f'"{result.revision}"'},
    )
