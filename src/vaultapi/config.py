"""Settings, read from the environment with the `VAULTAPI_` prefix.

Nested groups use `__`: `VAULTAPI_DATABASE__POOL_SIZE=20`,
`VAULTAPI_HTTP__CORS_ORIGINS='["https://vault.example.com"]'`.

Secrets are `SecretStr` so that they never show in a repr, a log line or a
traceback. Whether the configuration is fit for production is decided by
`production_problems()`, which lists *everything* that is missing at once, so
an operator fixes their deployment in one go instead of one error per start.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32
"""A symmetric server secret shorter than this is refused (256 bits)."""


class Group(BaseModel):
    """A nested settings group. Attribute docstrings become field descriptions:
    `.env.example` is generated from them (`vaultapi.envfile`)."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DatabaseSettings(Group):
    pool_size: Annotated[int, Field(ge=1, le=200)] = 20
    max_overflow: Annotated[int, Field(ge=0, le=200)] = 0
    """Connections beyond `pool_size` are opened for a burst and closed as soon
    as they are given back: under sustained load that is a new connection (TLS
    handshake, statements prepared again) per request or so. Measured with 64
    concurrent clients on 2 workers: 10 + 10 overflow gave ~1,200 item reads/s,
    20 + 0 (the same 20 connections at most) ~2,600. So the default keeps them all."""
    pool_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long a request waits for a pooled connection before it gets a 503."""
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0
    statement_timeout_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """PostgreSQL: longest one SQL statement may run, waiting for locks included,
    before the database cancels it and the request gets a 503 with `Retry-After`.
    Without it a slow or stuck database holds every pooled connection, and then
    every request, indefinitely. 0: no limit. Migrations run without it."""
    lock_timeout_seconds: Annotated[float, Field(ge=0, le=3600)] = 10.0
    """PostgreSQL: longest one statement waits for a lock another transaction
    holds before it gives up (503 with `Retry-After`). 0: no limit (then only
    `statement_timeout_seconds` bounds the wait)."""
    ready_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    """Upper bound for the `/readyz` database probe."""
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0, le=600_000)] = 5_000
    pool_pre_ping: bool = False
    """Test each pooled connection before use (one extra round trip per request).
    Off: a connection that died meanwhile fails one request with a 503, is
    dropped from the pool, and the next request gets a fresh one."""
    purge_interval_seconds: Annotated[float, Field(gt=0, le=86_400)] = 600
    """How often expired handshakes, counters, old sessions and old trash are
    purged: once per interval for the whole deployment, by whichever worker
    claims the round (a lease in the database)."""
    auto_migrate: bool | None = None
    """Run `alembic upgrade head` at start. Default: on in development, off in production."""
    echo: bool = False


class ServerSettings(Group):
    """How `vaultapi serve` listens; its command-line options override these."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    workers: Annotated[int, Field(ge=1, le=256)] = 1
    ssl_certfile: Path | None = None
    """TLS certificate chain (PEM): serve HTTPS directly. Needs `ssl_keyfile`."""
    ssl_keyfile: Path | None = None
    shutdown_drain_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    """After SIGTERM, keep the listener open this long answering new requests
    with 503 (readiness fails too) while in-flight requests finish, so a load
    balancer notices before connections are refused. 0: stop listening at once."""
    shutdown_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """After the drain, how long in-flight requests may still run before they
    are cancelled and the process exits."""

    @model_validator(mode="after")
    def _tls_files_go_together(self) -> ServerSettings:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("server.ssl_certfile and server.ssl_keyfile go together")
        return self


class HTTPSettings(Group):
    trusted_proxies: list[IPvAnyNetwork] = []
    """Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (e.g.
    `["10.0.0.0/8"]`). Empty: the client IP is always the TCP peer, the scheme
    is what the connection itself uses, and forwarded headers are ignored."""
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024 * 1024)] = 1024 * 1024
    """Largest request body accepted; anything larger gets 413 before it is read whole."""
    max_import_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024 * 1024)] = 96 * 1024 * 1024
    """Body limit of the vault import only (1,000 items of up to 64 KiB each)."""
    cors_origins: list[str] = []
    """Origins allowed to call the API from a browser. Empty (the default) disables CORS."""
    hsts_max_age_seconds: Annotated[int, Field(ge=0)] = 63_072_000
    login_fast_path: bool = True
    """Serve prelogin, srp/start and srp/verify without FastAPI's routing and
    request handling (`vaultapi.api.login_fast_path`): the same answers for
    about 0.5 M fewer instructions per request (a login is 22 M). Off:
    FastAPI serves them as any other route."""

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_exact(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or not origin.startswith(("https://", "http://")):
                raise ValueError(
                    f"CORS origin {origin!r} must be an exact http(s) origin; '*' is not allowed"
                )
        return [origin.rstrip("/") for origin in origins]


class AuthSettings(Group):
    jwt_algorithm: Literal["EdDSA", "HS256"] = "EdDSA"
    jwt_private_key: SecretStr | None = None
    """Ed25519 private key, PKCS#8 PEM (used when `jwt_algorithm` is EdDSA)."""
    jwt_secret: SecretStr | None = None
    """Shared HMAC key of at least 32 bytes (used when `jwt_algorithm` is HS256)."""
    jwt_accepted_public_keys: list[str] = []
    """Further Ed25519 public keys (PEM, JSON list) whose tokens are accepted but
    never signed with: the previous key after a rotation (until its tokens
    expire), or the next one while a rotation rolls out. Tokens name their
    key by `kid`; all of these are published in the JWKS."""
    jwt_accepted_secrets: list[SecretStr] = []
    """The same for HS256: previous (or next) HMAC keys still accepted."""
    server_secret: SecretStr | None = None
    """At least 32 bytes; keys the deterministic fakes that hide which accounts exist."""
    issuer: str = "vaultapi"
    audience: str = "vaultapi"
    access_token_ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] = 900
    refresh_token_ttl_days: Annotated[int, Field(ge=1, le=365)] = 30
    """Absolute lifetime of a session's refresh chain: log in again after this."""
    handshake_ttl_seconds: Annotated[int, Field(ge=5, le=600)] = 60
    recent_auth_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    """How fresh an SRP proof must be for sensitive actions (password change, …)."""
    max_sessions_per_account: Annotated[int, Field(ge=1, le=10_000)] = 100


class AbuseSettings(Group):
    """Brute-force protection, shared by all workers through the database."""

    account_free_failures: Annotated[int, Field(ge=1, le=100)] = 5
    """Failed proofs on one account before its exponential backoff starts."""
    account_backoff_base_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    account_backoff_max_seconds: Annotated[int, Field(ge=1, le=86_400)] = 900
    ip_failures_per_window: Annotated[int, Field(ge=1)] = 30
    """Failed proofs from one IP per window before it gets 429."""
    ip_handshakes_per_window: Annotated[int, Field(ge=1)] = 60
    """Handshake starts (the costly, unauthenticated step) from one IP per window."""
    ip_registrations_per_window: Annotated[int, Field(ge=1)] = 10
    window_seconds: Annotated[int, Field(ge=1, le=86_400)] = 300


class VaultSettings(Group):
    max_item_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024
    """Largest item `data` EncString, in characters."""
    max_folder_name_bytes: Annotated[int, Field(ge=64, le=65_536)] = 1024
    max_items: Annotated[int, Field(ge=1)] = 50_000
    """Items per account, trash included."""
    max_folders: Annotated[int, Field(ge=1)] = 1_000
    history_versions: Annotated[int, Field(ge=0, le=1000)] = 10
    """Previous versions kept per item."""
    trash_days: Annotated[int, Field(ge=1, le=3650)] = 30
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    """Default page of the item list; `max_page_size` caps what a client may ask."""
    max_page_size: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    import_max_items: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    """Items (and, separately, folders) one import request may carry."""


class MFASettings(Group):
    """Second factors: TOTP with recovery codes, and WebAuthn security keys."""

    token_ttl_seconds: Annotated[int, Field(ge=30, le=1800)] = 300
    """Lifetime of the `mfa_token` that a correct SRP proof yields on an account
    with a second factor: the time the user has to type a code or touch a key."""
    token_max_failures: Annotated[int, Field(ge=1, le=10)] = 3
    """Wrong second factors one `mfa_token` survives; then the login starts over."""
    totp_issuer: Annotated[str, Field(min_length=1, max_length=64)] = "vaultapi"
    """Shown by authenticator apps next to the account (the `otpauth://` issuer)."""
    totp_drift_steps: Annotated[int, Field(ge=0, le=4)] = 1
    """30-second steps accepted before and after the server's clock."""
    totp_enrolment_ttl_seconds: Annotated[int, Field(ge=60, le=3600)] = 900
    """Time to confirm a new TOTP secret with a code before the enrolment lapses."""
    recovery_codes: Annotated[int, Field(ge=4, le=32)] = 10
    webauthn_rp_id: str = "localhost"
    """The relying party id: the site's registrable domain, e.g. `vault.example.com`."""
    webauthn_rp_name: Annotated[str, Field(min_length=1, max_length=64)] = "vaultapi"
    webauthn_origins: list[str] = ["http://localhost:8000"]
    """Exact origins the browser may report for a ceremony (the web vault's)."""
    webauthn_challenge_ttl_seconds: Annotated[int, Field(ge=30, le=600)] = 120
    webauthn_max_credentials: Annotated[int, Field(ge=1, le=100)] = 10
    webauthn_test_page: bool = False
    """Serve `/_test/webauthn`, a page that drives a ceremony in a browser (tests only)."""

    @field_validator("webauthn_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        if not origins:
            raise ValueError("at least one WebAuthn origin is needed")
        for origin in origins:
            if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                raise ValueError(f"WebAuthn origin {origin!r} must be scheme://host[:port]")
        return origins


class ShareSettings(Group):
    """Time-limited shares (`/v1/shares`)."""

    max_secret_chars: Annotated[int, Field(ge=256, le=1024 * 1024)] = 16 * 1024
    """Largest share ciphertext (an EncString), in characters."""
    max_ttl_minutes: Annotated[int, Field(ge=1, le=365 * 24 * 60)] = 7 * 24 * 60
    """Longest lifetime an owner may give a share."""
    max_views: Annotated[int, Field(ge=1, le=100_000)] = 100
    """Most views an owner may allow on one share."""
    max_failed_proofs: Annotated[int, Field(ge=1, le=100)] = 3
    """Wrong access proofs after which a protected share locks for good."""
    max_active_per_account: Annotated[int, Field(ge=1, le=1_000_000)] = 1_000
    """Shares one account may hold at once (not yet expired, purge pending)."""
    ip_opens_per_window: Annotated[int, Field(ge=1)] = 30
    """Anonymous retrievals from one IP (IPv6: per /64) per window before 429."""
    ip_window_seconds: Annotated[int, Field(ge=1, le=86_400)] = 60
    access_log_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """How long the `share_access` records are kept."""


class AdminSettings(Group):
    """The operator's API and the logs it reads."""

    log_retention_days: Annotated[int, Field(ge=1, le=3650)] = 180
    """Authentication and audit records older than this are purged."""
    page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    max_page_size: Annotated[int, Field(ge=1, le=10_000)] = 1000
    csv_max_rows: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    """Rows one CSV export of the authentication log may hold."""
    ip_rules_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 2.0
    """How long a worker reuses the IP rules it read: a block or allow made
    through another worker holds here within this time (at once on the worker
    that made it). 0 reads them on every authentication request."""


class MetricsSettings(Group):
    mode: Literal["off", "token", "port"] = "off"
    """`token`: `GET /metrics` with `Authorization: Bearer <token>`; `port`: a
    separate listener on `host`:`port` (keep it on a private network)."""
    token: SecretStr | None = None
    """At least 32 characters (mode `token`)."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 9464


class LogSettings(Group):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VAULTAPI_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: SecretStr | None = None
    """SQLAlchemy URL: `postgresql://…` (asyncpg) or `sqlite:///path` (aiosqlite).
    Unset: an embedded SQLite file in `data_dir` (development only)."""
    data_dir: Path = Path(".vaultapi")
    """Where the embedded database and the development-mode secrets live."""
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HTTPSettings = HTTPSettings()
    auth: AuthSettings = AuthSettings()
    abuse: AbuseSettings = AbuseSettings()
    vault: VaultSettings = VaultSettings()
    mfa: MFASettings = MFASettings()
    admin: AdminSettings = AdminSettings()
    metrics: MetricsSettings = MetricsSettings()
    shares: ShareSettings = ShareSettings()
    log: LogSettings = LogSettings()

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def auto_migrate(self) -> bool:
        if self.database.auto_migrate is not None:
            return self.database.auto_migrate
        return not self.is_production

    @property
    def embedded_database_path(self) -> Path:
        return self.data_dir / "vaultapi.db"

    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file. Driver-normalized."""
        from vaultapi.db.engine import normalize_database_url

        if self.database_url is not None:
            return normalize_database_url(self.database_url.get_secret_value())
        return f"sqlite+aiosqlite:///{self.embedded_database_path.resolve()}"

    def production_warnings(self) -> list[str]:
        """Settings that run, but probably not as the operator meant."""
        warnings: list[str] = []
        if self.mfa.webauthn_rp_id == "localhost" or any(
            origin.startswith("http://") for origin in self.mfa.webauthn_origins
        ):
            warnings.append(
                "VAULTAPI_MFA__WEBAUTHN_RP_ID / VAULTAPI_MFA__WEBAUTHN_ORIGINS name localhost or "
                "plain http: security keys will only work there. Set the web vault's domain "
                "and its https:// origin."
            )
        return warnings

    def production_problems(self) -> list[str]:
        """Everything that keeps this configuration from running in production mode."""
        from vaultapi.server_keys import explicit_secret_problems

        problems: list[str] = []
        if self.database_url is None:
            problems.append(
                "VAULTAPI_DATABASE_URL is not set (PostgreSQL, e.g. "
                "postgresql://vaultapi:…@db:5432/vaultapi; or sqlite:////var/lib/vaultapi/vault.db "
                "for a single-machine, single-worker installation)"
            )
        problems.extend(explicit_secret_problems(self.auth, require_all=True))
        if self.metrics.mode == "token" and (
            self.metrics.token is None or len(self.metrics.token.get_secret_value()) < 32
        ):
            problems.append("VAULTAPI_METRICS__TOKEN must be at least 32 characters (mode token)")
        if self.mfa.webauthn_test_page:
            problems.append("VAULTAPI_MFA__WEBAUTHN_TEST_PAGE is for tests; turn it off")

        return problems
