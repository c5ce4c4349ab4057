"""`/v1/shares`: time-limited shares.

The owner creates, lists, inspects and revokes (access token required).
Anyone with the link opens: `POST /v1/shares/{id}/open`, anonymously, with
the access proof in the body when the share is protected. Opening is a POST
on purpose: it spends a view, and link previewers and prefetchers only GET.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status

from vaultapi.api.deps import ClientDep, CurrentDep, SessionDep, SettingsDep
from vaultapi.api.responses import SHARE_LOCATION, problem_responses, with_headers
from vaultapi.db.models import Share
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    AccessProofRequired,
    AccountDisabled,
    InvalidAccessProof,
    InvalidCiphertext,
    InvalidToken,
    ItemExists,
    LimitReached,
    NotFound,
    ShareGone,
    ShareOutOfRange,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
)
from vaultapi.schemas import shares as schemas
from vaultapi.services.shares import ShareService, share_state, views_left

router = APIRouter(prefix="/shares", tags=["shares"])

AUTH = (Unauthorized, InvalidToken, AccountDisabled)


async def get_shares(session: SessionDep, settings: SettingsDep) -> ShareService:
    return ShareService(session, settings.shares)


SharesDep = Annotated[ShareService, Depends(get_shares)]


def status_out(share: Share) -> schemas.ShareStatus:
    now = utcnow()
    return schemas.ShareStatus(
        id=share.id,
        state=share_state(share, now).value,
        protected=share.proof_hash is not None,
        created_at=share.created_at,
        expires_at=share.expires_at,
        max_views=share.max_views,
        views_used=share.views_used,
        views_left=views_left(share, now),
        failed_proofs=share.failed_proofs,
        last_opened_at=share.last_opened_at,
        revoked_at=share.revoked_at,
        locked_at=share.locked_at,
    )


@router.post(
    "",
    operation_id="createShare",
    summary="Share an encrypted secret for a limited time and number of views",
    status_code=status.HTTP_201_CREATED,
    responses={
        **with_headers(201, SHARE_LOCATION),
        **problem_responses(
            *AUTH, InvalidCiphertext, ShareOutOfRange, ItemExists, LimitReached, ValidationFailed
        ),
    },
)
async def create_share(
    body: schemas.ShareCreate,
    current: CurrentDep,
    shares: SharesDep,
    request: Request,
    response: Response,
) -> schemas.ShareStatus:
    share = await shares.create(current.account.id, body)
    response.headers["Location"] = str(request.url_for("get_share", share_id=share.id).path)
    return status_out(share)


@router.get(
    "",
    operation_id="listShares",
    summary="The caller's shares with their state",
    responses=problem_responses(*AUTH),
)
async def list_shares(current: CurrentDep, shares: SharesDep) -> schemas.ShareList:
    return schemas.ShareList(
        shares=[status_out(share) for share in await shares.list(current.account.id)]
    )


@router.get(
    "/{share_id}",
    operation_id="getShare",
    summary="One of the caller's shares, with its state",
    responses=problem_responses(*AUTH, NotFound, ValidationFailed),
)
async def get_share(
    share_id: uuid.UUID, current: CurrentDep, shares: SharesDep
) -> schemas.ShareStatus:
    return status_out(await shares.get(current.account.id, share_id))


@router.delete(
    "/{share_id}",
    operation_id="revokeShare",
    summary="Revoke a share: it cannot be opened any more (idempotent)",
    responses=problem_responses(*AUTH, NotFound, ValidationFailed),
)
async def revoke_share(
    share_id: uuid.UUID, current: CurrentDep, shares: SharesDep
) -> schemas.ShareStatus:
    return status_out(await shares.revoke(current.account.id, share_id))


@router.get(
    "/{share_id}/access",
    operation_id="getShareAccessLog",
    summary="Every attempt to open one of the caller's shares",
    responses=problem_responses(*AUTH, NotFound, ValidationFailed),
)
async def share_access_log(
    share_id: uuid.UUID, current: CurrentDep, shares: SharesDep
) -> schemas.ShareAccessLog:
    entries = await shares.access_log(current.account.id, share_id)
    return schemas.ShareAccessLog(
        entries=[
            schemas.ShareAccessEntry(at=entry.at, ip=entry.ip, outcome=entry.outcome)
            for entry in entries
        ]
    )


@router.post(
    "/{share_id}/open",
    operation_id="openShare",
    summary="Retrieve a share's ciphertext (anonymous; spends one view)",
    description="Unknown, expired, used-up, revoked and locked shares all answer the same "
    "410 `share_gone`. Rate-limited per IP (`shares.ip_opens_per_window`).",
    responses=problem_responses(
        AccessProofRequired, InvalidAccessProof, ShareGone, TooManyAttempts, ValidationFailed
    ),
)
async def open_share(
    share_id: uuid.UUID,
    shares: SharesDep,
    client: ClientDep,
    body: Annotated[schemas.ShareOpenRequest | None, Body()] = None,
) -> schemas.OpenedShare:
    proof_hex = body.access_proof if body is not None else None
    proof = bytes.fromhex(proof_hex) if proof_hex is not None else None
    opened = await shares.open(share_id, proof, client.ip)
    return schemas.OpenedShare(
        id=opened.share_id,
        ciphertext=opened.ciphertext,
        expires_at=opened.expires_at,
        views_left=opened.views_left,
    )
