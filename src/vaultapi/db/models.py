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
    "AuditEvent",
    "AuthEvent",
    "IPRule",
    "Lease",
    "MFAChallenge",
    "RateLimitCounter",
    "RecoveryCode",
    "RefreshToken",
    "SRPHandshake",
    "Session",
    "Share",
    "ShareAccess",
    "TOTPFactor",
    "UsageCounter",
    "Vault",
    "VaultFolder",
    "VaultItem",
    "VaultItemVersion",
    "VaultTombstone",
    "WebAuthnCeremony",
    "WebAuthnCredential",
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
    srp_verifier_powers: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary(1552), nullable=True)
    )
    """`srp.verifier_powers(v)`: set with every verifier, read by verify for a
    cheaper v^u (`vaultapi.crypto.comb`). NULL or stale: verify stores them
    again (`AuthService._repair_verifier_powers`); `vaultapi.db.backfills`
    fills the accounts older than the column."""

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
    counter_key: str | None = Field(default=None, max_length=64)
    """The identity's brute-force counter (`AbuseGuard.identity_key`, an HMAC
    under the server secret, so the database cannot compute it), stored so
    that verify can take the handshake and lock its counters in one
    statement. None on handshakes that a release before it started."""
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


# -- second factors -------------------------------------------------------------


class TOTPFactor(SQLModel, table=True):
    """An account's TOTP authenticator. Counts as a second factor once
    `confirmed_at` is set (a valid code was shown). The secret is sealed with a
    key derived from the server secret: a database dump alone does not give it."""

    __tablename__ = "totp_factors"

    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    )
    sealed_secret: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    """The latest accepted time step: a code is accepted only for a later one."""


class RecoveryCode(SQLModel, table=True):
    """Single-use recovery codes, argon2-hashed; a used one keeps `used_at`."""

    __tablename__ = "recovery_codes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    code_hash: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebAuthnCredential(SQLModel, table=True):
    """A registered security key (or platform authenticator)."""

    __tablename__ = "webauthn_credentials"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    credential_id: bytes = Field(sa_column=Column(LargeBinary(1023), nullable=False, unique=True))
    public_key: bytes = Field(sa_column=Column(LargeBinary(2048), nullable=False))
    """COSE public key, as the authenticator gave it."""
    sign_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    transports: str = Field(default="", max_length=128)
    """Comma-separated hints from registration (usb, nfc, internal, …)."""
    name: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MFAChallenge(SQLModel, table=True):
    """A login waiting for its second factor: the `mfa_token` (by hash) that a
    correct SRP proof yields. Single use, short-lived, and it dies after
    `mfa.token_max_failures` wrong factors."""

    __tablename__ = "mfa_challenges"

    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    device_name: str = Field(default="", max_length=128)
    failures: int = Field(default=0)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class WebAuthnCeremony(SQLModel, table=True):
    """A WebAuthn challenge between its options and its response, in the
    database so that any worker can finish it. Deleted at the first response."""

    __tablename__ = "webauthn_ceremonies"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: str = Field(max_length=16)
    """register or authenticate"""
    mfa_token_hash: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary(32), nullable=True)
    )
    """For authenticate: the login it belongs to."""
    challenge: bytes = Field(sa_column=Column(LargeBinary(64), nullable=False))
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


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


class AuditEvent(SQLModel, table=True):
    """Security events of an account (login, new device, password change,
    second-factor change, session revoked, share opened, admin action), which
    its owner can read too. `actor_id` differs from `account_id` when an admin
    acted on the account."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_account_id_id", "account_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime, index=True)
    account_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
    )
    actor_id: uuid.UUID | None = Field(default=None)
    action: str = Field(max_length=32)
    ip: str = Field(default="", max_length=45)
    detail: str = Field(default="", max_length=256)
    """Short and free of secrets: a device name, a session id, a count."""


class IPRule(SQLModel, table=True):
    """An operator's block or allow for an address or network, with a reason
    and an optional end. A block refuses the authentication routes; an allow
    overrides blocks and exempts from the per-IP rate limits."""

    __tablename__ = "ip_rules"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    network: str = Field(max_length=49)
    """Normalized CIDR, e.g. `203.0.113.0/24` or `2001:db8::/48`."""
    action: str = Field(max_length=8)
    """block or allow"""
    reason: str = Field(max_length=256)
    created_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class UsageCounter(SQLModel, table=True):
    """Per-day counts of events that leave no row behind to count later
    (items created, updated, deleted): one upsert per event. Sharded by
    account: one row per day and metric would make every account's writes
    wait for each other on it; one account's writes are serialized anyway."""

    __tablename__ = "usage_counters"

    day: str = Field(primary_key=True, max_length=10)
    """YYYY-MM-DD (UTC)"""
    metric: str = Field(primary_key=True, max_length=32)
    shard: int = Field(default=0, primary_key=True)
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


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


# -- shares --------------------------------------------------------------------


class Share(SQLModel, table=True):
    """A time-limited share: one client-encrypted secret, anonymous retrieval.

    The server never holds the key (it is in the link's fragment). When the
    owner set a passphrase, `proof_hash` is an argon2-cffi hash of the
    client's access proof; the passphrase itself never reaches the server.
    `ciphertext` is cleared as soon as the share can no longer be opened
    (used up, revoked, locked): the row stays for the owner's status list
    until it expires and is purged."""

    __tablename__ = "shares"
    __table_args__ = (Index("ix_shares_account_id_created_at", "account_id", "created_at"),)

    id: uuid.UUID = Field(primary_key=True)
    """Chosen by the client: it is the ciphertext's AAD."""
    account_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    )
    ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    proof_hash: str | None = Field(default=None, max_length=256)
    max_views: int
    views_used: int = Field(default=0)
    failed_proofs: int = Field(default=0)
    created_at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ShareAccess(SQLModel, table=True):
    """Every anonymous retrieval attempt, whatever its outcome. No foreign key:
    the record outlives the share (and attempts on unknown ids are kept too)."""

    __tablename__ = "share_access"
    __table_args__ = (Index("ix_share_access_share_id_at", "share_id", "at"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    at: datetime = Field(default_factory=_created_at, sa_type=UTCDateTime, index=True)
    share_id: uuid.UUID
    ip: str = Field(max_length=45)
    outcome: str = Field(max_length=24)
    """opened, gone, proof_required, wrong_proof, locked, rate_limited"""
