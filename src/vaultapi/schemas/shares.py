"""Requests and responses of `/v1/shares`. The ciphertext is an EncString
the server checks for shape and size only; the access proof is 32 bytes the
client derives from the share key and the passphrase (docs/protocol.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from vaultapi.schemas import examples as ex
from vaultapi.schemas.examples import example_config

PROOF_PATTERN = r"^[0-9a-f]{64}$"
_STATUS = {
    "id": ex.SHARE_ID,
    "state": "active",
    "protected": True,
    "created_at": ex.UPDATED_AT,
    "expires_at": "2026-11-22T06:02:19.115973Z",
    "max_views": 3,
    "views_used": 1,
    "views_left": 2,
    "failed_proofs": 0,
    "last_opened_at": ex.LATER,
    "revoked_at": None,
    "locked_at": None,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShareCreate(Strict):
    model_config = example_config(
        {
            "id": ex.SHARE_ID,
            "ciphertext": ex.SHARE_CIPHERTEXT,
            "expires_in_minutes": 1440,
            "max_views": 3,
            "access_proof": ex.ACCESS_PROOF,
        }
    )

    id: uuid.UUID = Field(description="Chosen by the client: it is the ciphertext's AAD")
    ciphertext: str = Field(
        description="EncString of the secret under the share's key, aad = share id "
        "(at most `shares.max_secret_chars` characters)"
    )
    expires_in_minutes: int = Field(
        ge=1, description="Lifetime from now, capped by `shares.max_ttl_minutes`"
    )
    max_views: int = Field(
        default=1, ge=1, description="How many times it may be opened (`shares.max_views` at most)"
    )
    access_proof: str | None = Field(
        default=None,
        pattern=PROOF_PATTERN,
        description="Passphrase-protected shares: the access proof, 64 lowercase hex "
        "characters. The server keeps only an Argon2 hash of it.",
    )


class ShareState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"
    LOCKED = "locked"


class ShareStatus(BaseModel):
    """What the owner sees: never the ciphertext."""

    model_config = example_config(_STATUS)

    id: uuid.UUID
    state: str = Field(
        description="Why it can or cannot be opened now: `active`, `expired`, `used_up`, "
        "`revoked`, `locked` (more may come)"
    )
    protected: bool = Field(description="Needs a passphrase (access proof)")
    created_at: datetime
    expires_at: datetime
    max_views: int
    views_used: int
    views_left: int = Field(description="0 once used up, revoked, locked or expired")
    failed_proofs: int = Field(description="Wrong access proofs so far")
    last_opened_at: datetime | None
    revoked_at: datetime | None
    locked_at: datetime | None = Field(description="Locked for good after too many wrong proofs")


class ShareList(BaseModel):
    model_config = example_config({"shares": [_STATUS]})

    shares: list[ShareStatus] = Field(description="Newest first; purged once expired")


class ShareOpenRequest(Strict):
    model_config = example_config({"access_proof": ex.ACCESS_PROOF})

    access_proof: str | None = Field(
        default=None, pattern=PROOF_PATTERN, description="Required for protected shares"
    )


class OpenedShare(BaseModel):
    model_config = example_config(
        {
            "id": ex.SHARE_ID,
            "ciphertext": ex.SHARE_CIPHERTEXT,
            "expires_at": "2026-11-22T06:02:19.115973Z",
            "views_left": 1,
        }
    )

    id: uuid.UUID
    ciphertext: str = Field(description="EncString: decrypt with the key from the link")
    expires_at: datetime
    views_left: int


class ShareAccessEntry(BaseModel):
    model_config = example_config({"at": ex.LATER, "ip": "198.51.100.23", "outcome": "opened"})

    at: datetime
    ip: str
    outcome: str = Field(
        description="opened, gone, proof_required, wrong_proof, locked, rate_limited"
    )


class ShareAccessLog(BaseModel):
    model_config = example_config(
        {
            "entries": [
                {"at": ex.LATER, "ip": "198.51.100.23", "outcome": "wrong_proof"},
                {"at": ex.LATER, "ip": "198.51.100.23", "outcome": "opened"},
            ]
        }
    )

    entries: list[ShareAccessEntry] = Field(description="Oldest first")
