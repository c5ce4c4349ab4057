"""Every table of the schema, in one place so that `metadata` is complete for
Alembic's autogenerate and for the model/migration agreement test.

ORM models are never response models: the API answers with `vaultapi.schemas`,
so a verifier, a token hash or a handshake secret cannot leak by accident.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

from vaultapi.db.base import metadata
from vaultapi.db.types import UTCDateTime, utcnow

__all__ = [
    "Account",
    "AuthEvent",
    "Lease",
    "RateLimitCounter",
    "RefreshToken",
    "SRPHandshake",
    "Session",
    "Vault",
    "VaultFolder",
    "VaultItem",
    "VaultItemVersion",
    "VaultTombstone",
    "metadata",
]


def _created_at() -> datetime:
    return utcnow()


class Account(SQLModel, table=True):
    """A user. Holds only what the server needs to run SRP and hand the client
    its wrapped keys: nothing here lets the server decrypt anything."""

    __tablename__ = "accounts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    """Normalized (NFKC, trimmed, lower-case): the SRP identity."""
    role: str = Field(default="user", max_length=16)
    status: str = Field(default="active", max_length=16)

    kdf_algorithm: str = Field(max_length=16)
    kdf_memory_kib: int
    kdf_iterations: int
    kdf_parallelism: int
    kdf_salt: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))

    srp_salt: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))
    srp_verifier: bytes = Field(sa_column=Column(LargeBinary(384), nullable=False))

    protected_account_key: str = Field(max_length=256)
    public_key: str = Field(max_length=64)
    """X25519 public key, base64url without padding."""
    protected_private_key: str = Field(max_length=256)

    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SRPHandshake(SQLModel, table=True):
    """Server state between `srp/start` and `srp/verify`, so that any worker can
    finish a handshake. Single use (deleted at the first verify attempt) and
    short-lived. Unknown e-mails get a row too, with no account: the verify
    path is then the same work, and fails exactly like a wrong password."""

    __tablename__ = "srp_handshakes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    )
    identity: str = Field(max_length=254)
    private_b: bytes = Field(sa_column=Column(LargeBinary(384), nullable=False))
    public_a: bytes = Field(sa_column=Column(LargeBinary(384), nullable=False))
    public_b: bytes = Field(sa_column=Column(LargeBinary(384), nullable=False))
    client_ip: str = Field(max_length=45)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Session(SQLModel, table=True):
    """One device login. Access tokens name it (`sid`); every authenticated
    request checks it is still live, so revocation takes effect at once."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_account_id_revoked_at", "account_id", "revoked_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    device_name: str = Field(default="", max_length=128)
    created_ip: str = Field(max_length=45)
    last_ip: str = Field(max_length=45)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    last_used_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    last_auth_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    """Time of the last SRP proof on this session: "recent authentication"."""
    expires_at: datetime = Field(sa_type=UTCDateTime)
    """Absolute end of the refresh chain."""
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoke_reason: str | None = Field(default=None, max_length=32)


class RefreshToken(SQLModel, table=True):
    """Refresh tokens by hash only. A rotated token stays (with `rotated_at`)
    so that presenting it again is recognized as theft and ends the session."""

    __tablename__ = "refresh_tokens"

    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    session_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthEvent(SQLModel, table=True):
    """Every authentication attempt, for the admin's login log and statistics."""

    __tablename__ = "auth_events"
    __table_args__ = (
        Index("ix_auth_events_account_id_at", "account_id", "at"),
        Index("ix_auth_events_ip_at", "ip", "at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime, index=True)
    ip: str = Field(max_length=45)
    user_agent: str = Field(default="", max_length=256)
    account_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
    )
    action: str = Field(max_length=24)
    """register, prelogin, srp_start, srp_verify, refresh, logout, …"""
    outcome: str = Field(max_length=16)
    """success, failure, blocked"""
    reason: str = Field(default="", max_length=48)


class RateLimitCounter(SQLModel, table=True):
    """Fixed-window counters shared by all workers (per IP, per action)."""

    __tablename__ = "rate_limits"

    key: str = Field(primary_key=True, max_length=96)
    window_start: datetime = Field(sa_type=UTCDateTime)
    count: int = Field(default=0)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Lease(SQLModel, table=True):
    """A named claim on periodic work, shared by every worker of every machine:
    whoever holds an unexpired lease does the work; the others skip it
    (`vaultapi.services.leases`)."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    """Which process claimed it last (host:pid:random)."""
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    claims: int = Field(default=0, sa_type=BigInteger)
    """How many times it was claimed, ever: each claim is one run of the work."""


# -- vault ---------------------------------------------------------------------


class Vault(SQLModel, table=True):
    """One per account: the monotonic revision that delta sync cursors count.

    Every vault write bumps it with `UPDATE … RETURNING`, which also holds the
    row until commit: one account's writes commit in revision order, so a
    cursor taken by a reader never skips a change that commits later with a
    smaller revision."""

    __tablename__ = "vaults"

    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    )
    revision: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class VaultFolder(SQLModel, table=True):
    __tablename__ = "vault_folders"
    __table_args__ = (Index("ix_vault_folders_account_id_changed", "account_id", "changed_in"),)

    id: uuid.UUID = Field(primary_key=True)
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(sa_column=Column(Text, nullable=False))
    """EncString of the folder name."""
    revision: int = Field(default=1)
    changed_in: int = Field(sa_column=Column(BigInteger, nullable=False))
    """The vault revision of the last change: what delta sync compares."""
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)


class VaultItem(SQLModel, table=True):
    """An item: opaque to the server but for the few clear fields here."""

    __tablename__ = "vault_items"
    __table_args__ = (
        Index("ix_vault_items_account_id_changed", "account_id", "changed_in"),
        Index("ix_vault_items_folder_id", "folder_id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    """Chosen by the client, so it can bind it into the ciphertext's AAD."""
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    type: str = Field(max_length=16)
    key: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))
    folder_id: uuid.UUID | None = Field(default=None)
    favorite: bool = Field(default=False)
    revision: int = Field(default=1)
    changed_in: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """In the trash since then; purged for good after `vault.trash_days`."""


class VaultItemVersion(SQLModel, table=True):
    """Earlier versions of an item (the last `vault.history_versions`)."""

    __tablename__ = "vault_item_versions"
    __table_args__ = (Index("ix_vault_item_versions_item_id_revision", "item_id", "revision"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    item_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("vault_items.id", ondelete="CASCADE"), nullable=False)
    )
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    revision: int
    type: str = Field(max_length=16)
    key: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))
    folder_id: uuid.UUID | None = Field(default=None)
    favorite: bool = Field(default=False)
    replaced_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)


class VaultTombstone(SQLModel, table=True):
    """What was purged for good, so that delta sync can tell clients to drop it."""

    __tablename__ = "vault_tombstones"
    __table_args__ = (Index("ix_vault_tombstones_account_id_changed", "account_id", "changed_in"),)

    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    )
    object_id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(max_length=8)
    """item or folder"""
    changed_in: int = Field(sa_column=Column(BigInteger, nullable=False))
    purged_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
