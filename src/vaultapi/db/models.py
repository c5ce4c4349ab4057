"""Every table of the schema, in one place so that `metadata` is complete for
Alembic's autogenerate and for the model/migration agreement test.

ORM models are never response models: the API answers with `vaultapi.schemas`,
so a verifier, a token hash or a handshake secret cannot leak by accident.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary
from sqlmodel import Field, SQLModel

from vaultapi.db.base import metadata
from vaultapi.db.types import UTCDateTime, utcnow

__all__ = [
    "Account",
    "AuthEvent",
    "RateLimitCounter",
    "RefreshToken",
    "SRPHandshake",
    "Session",
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
