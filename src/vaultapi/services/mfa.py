"""Second factors: an account's own TOTP, recovery codes and security keys
(`SecondFactors`), and the second step of a login (`SecondStep`).

The login's second step
-----------------------
A correct SRP proof on an account with a second factor yields no tokens: it
yields an `mfa_token` (`PendingLogins.open`), stored by hash, single use, alive
for `mfa.token_ttl_seconds`, and dead after `mfa.token_max_failures` wrong
factors. Each attempt locks the token's row for the request, so concurrent
guesses with one token are judged one after another and no extra guess slips
through. Wrong factors also count toward the account's brute-force backoff
(the same per-identity streak as wrong passwords, `services.abuse`): a correct
password alone does not reset it — only a completed login does — so an
attacker who knows the password cannot buy fresh guesses by logging in again.

Changing factors (enrol, disable, register or remove a key, new recovery
codes) needs recent authentication, like a password change.

Lock order
----------
Every transaction that takes more than one of these rows takes them in one
order: the brute-force counters, then the account's row, then its pending
logins. srp/verify locks the counters, then the account, and opens a pending
login under it; factor changes, the admin's reset, a password change and
account deletion hold the account's row when they delete its pending logins;
the maintenance purge deletes expired counters before expired pending logins.
The account's row is always taken FOR NO KEY UPDATE (`AccountRepository.lock`,
`get_locked`), which does not hold up the KEY SHARE that a new row referring
to the account (a log entry, a session) takes on it.
The second step therefore finds its pending login unlocked first (to learn
the account), then locks the counters, the account's row (FOR NO KEY UPDATE,
as srp/verify) and the pending login, and reads both again under their locks
(`SecondStep._locked`). Locking the pending login first deadlocked with a
factor change: the change waited for the pending login, the second step for
the account's row (a new session's foreign key), and PostgreSQL failed one
of them after a second.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.config import MFASettings
from vaultapi.crypto import CryptoError, recovery_codes, totp
from vaultapi.crypto.tokens import TokenError, mfa_token_hash, new_mfa_token
from vaultapi.db.direct import Db
from vaultapi.db.models import (
    Account,
    MFAChallenge,
    TOTPFactor,
    WebAuthnCeremony,
    WebAuthnCredential,
)
from vaultapi.db.repositories.accounts import AccountRepository
from vaultapi.db.repositories.auth import AuthEventRepository
from vaultapi.db.repositories.mfa import LoginFactors, MFARepository
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    BadRequest,
    CeremonyInvalid,
    InvalidSecondFactor,
    LimitReached,
    MFAStateConflict,
    MFATokenInvalid,
    NotFound,
    TooManyAttempts,
    WebAuthnRejected,
)
from vaultapi.runtime import Runtime
from vaultapi.services import audit
from vaultapi.services import webauthn_ceremonies as ceremonies
from vaultapi.services.abuse import AbuseGuard
from vaultapi.services.context import ClientInfo
from vaultapi.services.sessions import (
    CurrentSession,
    IssuedTokens,
    SessionService,
    lock_own_account,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingLogin:
    mfa_token: str
    methods: list[str]
    expires_in: int
    attempts_left: int


@dataclass(frozen=True)
class Ceremony:
    ceremony_id: uuid.UUID
    options: dict[str, Any]
    expires_in: int


@dataclass(frozen=True)
class TOTPEnrolment:
    secret: str
    otpauth_uri: str
    expires_in: int


@dataclass(frozen=True)
class Status:
    methods: list[str]
    totp: TOTPFactor | None
    credentials: list[WebAuthnCredential]
    recovery_codes_left: int


class PendingLogins:
    """The account's second-factor methods after a correct proof, and the
    pending login it opens. On a `Db`: the SRP verify of the direct login path
    (`vaultapi.db.direct`) runs it in its own transaction, one statement more
    per login (the methods)."""

    def __init__(self, db: Db, settings: MFASettings) -> None:
        self.factors = LoginFactors(db)
        self.settings = settings

    async def methods(self, account_id: uuid.UUID) -> list[str]:
        return await self.factors.methods(account_id)

    async def open(
        self, account_id: uuid.UUID, methods: list[str], device_name: str, now: datetime
    ) -> PendingLogin:
        token = new_mfa_token()
        ttl = self.settings.token_ttl_seconds
        await self.factors.add_challenge(
            token_hash=mfa_token_hash(token),
            account_id=account_id,
            device_name=device_name,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        return PendingLogin(token, methods, ttl, self.settings.token_max_failures)


class _Base:
    def __init__(self, session: AsyncSession, runtime: Runtime, client: ClientInfo) -> None:
        self.db = session
        self.runtime = runtime
        self.settings = runtime.settings.mfa
        self.client = client
        self.repo = MFARepository(session)
        self.events = AuthEventRepository(Db.of_session(session))

    async def _event(
        self, action: str, outcome: str, reason: str, account_id: uuid.UUID | None
    ) -> None:
        await self.events.record(
            self.client.ip, self.client.user_agent, action, outcome, reason, account_id
        )

    def _known(self, credentials: list[WebAuthnCredential]) -> list[ceremonies.KnownCredential]:
        return [
            ceremonies.KnownCredential(
                credential_id=credential.credential_id,
                transports=[t for t in credential.transports.split(",") if t],
            )
            for credential in credentials
        ]

    async def _new_ceremony(
        self,
        account_id: uuid.UUID,
        purpose: str,
        now: datetime,
        mfa_token_hash: bytes | None = None,
    ) -> WebAuthnCeremony:
        ttl = self.settings.webauthn_challenge_ttl_seconds
        ceremony = WebAuthnCeremony(
            account_id=account_id,
            purpose=purpose,
            mfa_token_hash=mfa_token_hash,
            challenge=secrets.token_bytes(ceremonies.CHALLENGE_BYTES),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        await self.repo.add_ceremony(ceremony)
        return ceremony


class SecondFactors(_Base):
    """The account's own second factors."""

    def __init__(
        self,
        session: AsyncSession,
        runtime: Runtime,
        client: ClientInfo,
        sessions: SessionService,
    ) -> None:
        super().__init__(session, runtime, client)
        self.sessions = sessions

    async def status(self, current: CurrentSession) -> Status:
        account_id = current.account.id
        return Status(
            methods=await self.repo.methods(account_id),
            totp=await self.repo.totp(account_id),
            credentials=list(await self.repo.credentials(account_id)),
            recovery_codes_left=await self.repo.count_unused_recovery_codes(account_id),
        )

    async def _first_factor_codes(self, account_id: uuid.UUID, now: datetime) -> list[str] | None:
        """A fresh set of recovery codes when the account has none yet."""
        if await self.repo.count_unused_recovery_codes(account_id):
            return None
        return await self._new_recovery_codes(account_id, now)

    async def _new_recovery_codes(self, account_id: uuid.UUID, now: datetime) -> list[str]:
        codes = [recovery_codes.new_code() for _ in range(self.settings.recovery_codes)]
        hashes = await asyncio.to_thread(lambda: [recovery_codes.hash_code(c) for c in codes])
        await self.repo.replace_recovery_codes(account_id, hashes, now)
        return codes

    async def _drop_codes_if_no_factor(self, account_id: uuid.UUID) -> None:
        if not await self.repo.methods(account_id):
            await self.repo.delete_recovery_codes(account_id)

    # -- TOTP -----------------------------------------------------------------

    async def _lock(self, current: CurrentSession) -> None:
        """One change to an account's factors at a time: concurrent ones would
        otherwise issue two sets of recovery codes, pass the key limit, or
        leave codes behind with no factor."""
        await lock_own_account(self.db, current)

    async def start_totp(self, current: CurrentSession) -> TOTPEnrolment:
        self.sessions.require_recent_auth(current)
        account = current.account
        await self._lock(current)
        existing = await self.repo.totp(account.id)
        if existing is not None and existing.confirmed_at is not None:
            raise MFAStateConflict("TOTP is already on for this account; turn it off first")
        secret, now = totp.new_secret(), utcnow()
        sealed = totp.seal_secret(self.runtime.keys.server_secret, account.id, secret)
        await self.repo.put_totp(
            TOTPFactor(account_id=account.id, sealed_secret=sealed, created_at=now)
        )
        return TOTPEnrolment(
            secret=secret,
            otpauth_uri=totp.provisioning_uri(
                secret, account_name=account.email, issuer=self.settings.totp_issuer
            ),
            expires_in=self.settings.totp_enrolment_ttl_seconds,
        )

    async def confirm_totp(self, current: CurrentSession, code: str) -> list[str] | None:
        """Turn a pending enrolment on with a valid code. Returns new recovery
        codes when this is the account's first second factor."""
        account, now = current.account, utcnow()
        await self._lock(current)
        factor = await self.repo.totp(account.id)
        if factor is None or factor.confirmed_at is not None:
            raise MFAStateConflict("No TOTP enrolment is waiting for confirmation")
        lapse = timedelta(seconds=self.settings.totp_enrolment_ttl_seconds)
        if factor.created_at + lapse <= now:
            raise MFAStateConflict("This TOTP enrolment lapsed; start a new one")
        try:
            secret = totp.open_secret(
                self.runtime.keys.server_secret, account.id, factor.sealed_secret
            )
        except CryptoError as exc:
            raise MFAStateConflict(
                "This enrolment cannot be read (the server secret changed); start a new one"
            ) from exc
        step = totp.matching_step(secret, code, now=now, drift_steps=self.settings.totp_drift_steps)
        if step is None:
            raise BadRequest(
                "That code does not match: check the authenticator app's clock and "
                "that it holds the secret just issued"
            )
        if not await self.repo.confirm_totp(account.id, factor.sealed_secret, step, now):
            raise MFAStateConflict("No TOTP enrolment is waiting for confirmation")
        codes = await self._first_factor_codes(account.id, now)
        await self._event("mfa_totp_enable", "success", "", account.id)
        await audit.record(self.db, self.client, account.id, "second_factor_change", "totp on")
        return codes

    async def disable_totp(self, current: CurrentSession) -> None:
        self.sessions.require_recent_auth(current)
        account_id = current.account.id
        await self._lock(current)
        if not await self.repo.delete_totp(account_id):
            raise NotFound("TOTP is not on for this account")
        await self._drop_codes_if_no_factor(account_id)
        await self.repo.delete_pending_logins(account_id)
        await self._event("mfa_totp_disable", "success", "", account_id)
        await audit.record(self.db, self.client, account_id, "second_factor_change", "totp off")

    # -- recovery codes -----------------------------------------------------------

    async def regenerate_recovery_codes(self, current: CurrentSession) -> list[str]:
        self.sessions.require_recent_auth(current)
        account_id = current.account.id
        await self._lock(current)
        if not await self.repo.methods(account_id):
            raise MFAStateConflict("Recovery codes stand in for a second factor: enable one first")
        codes = await self._new_recovery_codes(account_id, utcnow())
        await self._event("mfa_recovery_codes_new", "success", "", account_id)
        await audit.record(
            self.db, self.client, account_id, "second_factor_change", "new recovery codes"
        )
        return codes

    # -- WebAuthn ---------------------------------------------------------------

    async def webauthn_register_options(self, current: CurrentSession) -> Ceremony:
        self.sessions.require_recent_auth(current)
        account, now = current.account, utcnow()
        existing = list(await self.repo.credentials(account.id))
        if len(existing) >= self.settings.webauthn_max_credentials:
            raise LimitReached(
                f"At most {self.settings.webauthn_max_credentials} security keys per account",
                extra={"limit": self.settings.webauthn_max_credentials},
            )
        ceremony = await self._new_ceremony(account.id, "register", now)
        options = ceremonies.registration_options(
            self.settings,
            account_id=account.id,
            email=account.email,
            challenge=ceremony.challenge,
            existing=self._known(existing),
        )
        return Ceremony(ceremony.id, options, self.settings.webauthn_challenge_ttl_seconds)

    async def webauthn_register(
        self, current: CurrentSession, ceremony_id: uuid.UUID, name: str, credential: dict[str, Any]
    ) -> tuple[WebAuthnCredential, list[str] | None]:
        """Finish a registration. The ceremony was opened under recent
        authentication and is single use, so this step does not ask again."""
        account, now = current.account, utcnow()
        await self._lock(current)
        ceremony = await self.repo.take_ceremony(
            ceremony_id, account_id=account.id, purpose="register"
        )
        if ceremony is None or ceremony.expires_at <= now:
            raise CeremonyInvalid(
                "Ask for new registration options: this ceremony is unknown, used or expired",
                keep_changes=True,
            )
        try:
            new = ceremonies.verify_registration(self.settings, credential, ceremony.challenge)
        except ceremonies.ResponseRejectedError as exc:
            raise WebAuthnRejected(str(exc), keep_changes=True) from exc
        if await self.repo.count_credentials(account.id) >= self.settings.webauthn_max_credentials:
            raise LimitReached(
                f"At most {self.settings.webauthn_max_credentials} security keys per account",
                keep_changes=True,
            )
        row = WebAuthnCredential(
            account_id=account.id,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            transports=",".join(new.transports),
            name=name,
            created_at=now,
        )
        if not await self.repo.add_credential(row):
            raise MFAStateConflict("This security key is already registered", keep_changes=True)
        codes = await self._first_factor_codes(account.id, now)
        await self._event("mfa_webauthn_add", "success", "", account.id)
        await audit.record(
            self.db, self.client, account.id, "second_factor_change", f"security key added: {name}"
        )
        return row, codes

    async def rename_credential(
        self, current: CurrentSession, credential_id: uuid.UUID, name: str
    ) -> WebAuthnCredential:
        renamed = await self.repo.rename_credential(current.account.id, credential_id, name)
        if renamed is None:
            raise NotFound("No security key with this id on your account")
        return renamed

    async def remove_credential(self, current: CurrentSession, credential_id: uuid.UUID) -> None:
        self.sessions.require_recent_auth(current)
        account_id = current.account.id
        await self._lock(current)
        if not await self.repo.delete_credential(account_id, credential_id):
            raise NotFound("No security key with this id on your account")
        await self._drop_codes_if_no_factor(account_id)
        await self.repo.delete_pending_logins(account_id)
        await self._event("mfa_webauthn_remove", "success", "", account_id)
        await audit.record(
            self.db, self.client, account_id, "second_factor_change", "security key removed"
        )


Check = Callable[[Account, bytes, datetime], Awaitable[str | None]]
"""A second-factor check: None when it passes, else the reason (for the log)."""


class SecondStep(_Base):
    """Opening and finishing the second step of a login."""

    def __init__(
        self,
        session: AsyncSession,
        runtime: Runtime,
        client: ClientInfo,
        sessions: SessionService,
    ) -> None:
        super().__init__(session, runtime, client)
        self.sessions = sessions
        self.accounts = AccountRepository(session)
        self.guard = AbuseGuard(
            Db.of_session(session), runtime.settings.abuse, runtime.keys.server_secret
        )

    async def _token_invalid(self) -> MFATokenInvalid:
        await self._event("mfa", "failure", "mfa_token_invalid", None)
        return MFATokenInvalid(
            "This login's mfa_token is unknown, used, expired or out of attempts: log in again",
            keep_changes=True,
        )

    async def _pending(self, mfa_token: str, now: datetime) -> tuple[bytes, Account]:
        """The pending login's token hash and its account, neither locked yet
        (see the lock order in the module docstring)."""
        try:
            token_hash = mfa_token_hash(mfa_token)
        except TokenError:
            token_hash = b""
        challenge = await self.repo.challenge(token_hash, now) if token_hash else None
        account = await self.accounts.get(challenge.account_id) if challenge else None
        if challenge is None or account is None or account.status != "active":
            raise await self._token_invalid()
        return token_hash, account

    async def _locked(
        self, token_hash: bytes, account_id: uuid.UUID
    ) -> tuple[MFAChallenge, Account, datetime]:
        """Lock the account's row, then the pending login's, for the rest of
        the request, and read both again: either may have changed or gone
        since `_pending` read them. Also the time after the waits, which
        is what the login's expiry and a TOTP code are judged at."""
        account = await self.accounts.get_locked(account_id)
        challenge = await self.repo.lock_challenge(token_hash, utcnow())
        now = utcnow()
        if (
            challenge is None
            or challenge.expires_at <= now
            or account is None
            or account.status != "active"
        ):
            raise await self._token_invalid()
        return challenge, account, now

    async def _finish(
        self, action: str, mfa_token: str, check: Check
    ) -> tuple[Account, IssuedTokens]:
        now = utcnow()
        token_hash, account = await self._pending(mfa_token, now)
        identity_key = self.guard.identity_key(account.email)
        try:
            now = await self.guard.lock_and_check(identity_key, self.client.ip, now)
        except TooManyAttempts:
            await self._event(action, "blocked", "rate_limited", account.id)
            raise
        challenge, account, now = await self._locked(token_hash, account.id)
        reason = await check(account, token_hash, now)
        if reason is not None:
            left = await self.repo.count_failure(token_hash, self.settings.token_max_failures)
            await self.guard.record_failure(identity_key, self.client.ip, now)
            await self._event(action, "failure", reason, account.id)
            raise InvalidSecondFactor(
                "Wrong second factor"
                + ("; log in again" if not left else f"; {left} attempt(s) left on this login"),
                extra={"attempts_left": left},
                keep_changes=True,
            )
        await self.repo.delete_challenge(token_hash)
        await self.guard.record_success(identity_key)
        tokens = await self.sessions.issuer.finish_login(
            account, device_name=challenge.device_name, now=now, action=action
        )
        return account, tokens

    # -- TOTP -----------------------------------------------------------------

    async def totp(self, mfa_token: str, code: str) -> tuple[Account, IssuedTokens]:
        async def check(account: Account, _: bytes, now: datetime) -> str | None:
            factor = await self.repo.totp(account.id)
            if factor is None or factor.confirmed_at is None:
                return "totp_not_enabled"
            try:
                secret = totp.open_secret(
                    self.runtime.keys.server_secret, account.id, factor.sealed_secret
                )
            except CryptoError:
                log.error(
                    "TOTP secret of account %s does not open: server secret changed?", account.id
                )
                return "totp_unreadable"
            step = totp.matching_step(
                secret, code, now=now, drift_steps=self.settings.totp_drift_steps
            )
            if step is None:
                return "wrong_code"
            if not await self.repo.accept_totp_step(account.id, step):
                return "code_reused"
            return None

        return await self._finish("mfa_totp", mfa_token, check)

    # -- recovery codes -----------------------------------------------------------

    async def recovery_code(self, mfa_token: str, code: str) -> tuple[Account, IssuedTokens]:
        async def check(account: Account, _: bytes, now: datetime) -> str | None:
            normalized = recovery_codes.normalize(code)
            if normalized is None:
                return "malformed_code"
            unused = await self.repo.unused_recovery_codes(account.id)
            matched = await asyncio.to_thread(_first_match, unused, normalized)
            if matched is None:
                return "wrong_code"
            if not await self.repo.spend_recovery_code(account.id, matched, now):
                return "code_reused"
            left = len(unused) - 1
            log.warning("account %s used a recovery code; %d left", account.id, left)
            await audit.record(
                self.db, self.client, account.id, "recovery_code_used", f"{left} left"
            )
            await self._event("mfa_recovery_code_used", "success", f"{left}_left", account.id)
            return None

        return await self._finish("mfa_recovery_code", mfa_token, check)

    # -- WebAuthn ---------------------------------------------------------------

    async def webauthn_options(self, mfa_token: str) -> Ceremony:
        """Options for a security-key assertion. Asking again replaces the
        previous challenge of this login (one live ceremony per mfa_token)."""
        now = utcnow()
        token_hash, account = await self._pending(mfa_token, now)
        _, account, now = await self._locked(token_hash, account.id)
        credentials = list(await self.repo.credentials(account.id))
        if not credentials:
            raise MFAStateConflict("This account has no security key", keep_changes=True)
        await self.repo.delete_ceremonies_of(token_hash)
        ceremony = await self._new_ceremony(account.id, "authenticate", now, token_hash)
        options = ceremonies.authentication_options(
            self.settings, challenge=ceremony.challenge, allowed=self._known(credentials)
        )
        return Ceremony(ceremony.id, options, self.settings.webauthn_challenge_ttl_seconds)

    async def webauthn(
        self, mfa_token: str, ceremony_id: uuid.UUID, credential: dict[str, Any]
    ) -> tuple[Account, IssuedTokens]:
        async def check(account: Account, token_hash: bytes, now: datetime) -> str | None:
            ceremony = await self.repo.take_ceremony(
                ceremony_id,
                account_id=account.id,
                purpose="authenticate",
                mfa_token_hash=token_hash,
            )
            if ceremony is None or ceremony.expires_at <= now:
                return "ceremony_invalid"
            try:
                raw_id = ceremonies.credential_id_of(credential)
            except ceremonies.ResponseRejectedError:
                return "webauthn_malformed"
            stored = await self.repo.credential(account.id, raw_id)
            if stored is None:
                return "unknown_credential"
            try:
                new_count = ceremonies.verify_authentication(
                    self.settings,
                    credential,
                    challenge=ceremony.challenge,
                    public_key=stored.public_key,
                    sign_count=stored.sign_count,
                )
            except ceremonies.ResponseRejectedError as exc:
                log.info("WebAuthn assertion rejected for account %s: %s", account.id, exc)
                return (
                    "sign_count_not_increased" if "sign count" in str(exc) else "webauthn_rejected"
                )
            if not await self.repo.advance_sign_count(stored.id, new_count, now):
                return "sign_count_not_increased"
            return None

        return await self._finish("mfa_webauthn", mfa_token, check)


def _first_match(unused: list[tuple[uuid.UUID, str]], normalized: str) -> uuid.UUID | None:
    """Every hash is checked, match or not: the time taken does not tell how
    far down the list the code was, or how many are left."""
    found: uuid.UUID | None = None
    for code_id, code_hash in unused:
        if recovery_codes.matches(code_hash, normalized) and found is None:
            found = code_id
    return found
