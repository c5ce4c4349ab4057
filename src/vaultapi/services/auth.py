"""Registration and login: prelogin, SRP-6a start and verify.

The SRP arithmetic (about 0.7 ms at start, 1.4 ms at verify, in GMP) runs on
the event loop. A worker thread would not let other requests run meanwhile:
gmpy2 holds the GIL through a modular exponentiation, so the thread only
added a hand-off to each login. Throughput comes from one worker per core.

Login (prelogin, start, verify) is the hot path of this module: it works on a
`Db` (`vaultapi.db.direct`: no ORM session, few statements, one transaction).
Registration also needs the ORM session (`register(…, session)`), and runs
the same counters and log through it.

Verify takes the handshake, locks the brute-force counters and reads the
account with its second factors in one statement on PostgreSQL
(`LoginAccounts.take_handshake`; elsewhere, and for a handshake without a
counter key, in three). With a factor it opens a pending login (202 with an
`mfa_token`) instead of a session, deciding on what it reads while it holds
the account's row; the identity's failure streak is cleared only by a
finished login. A password-only login's writes, audit entry included, are
one statement (`SessionIssuer.finish_password_login`). All of it runs on the
same `Db`, in the login's one transaction.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.crypto import CryptoError, srp
from vaultapi.crypto.comb import VerifierComb
from vaultapi.crypto.kdf import DEFAULT_KDF, KdfParams, normalize_email
from vaultapi.db.direct import Db
from vaultapi.db.models import Account
from vaultapi.db.repositories.accounts import (
    AccountRepository,
    EmailTakenError,
    LoginAccount,
    LoginAccounts,
)
from vaultapi.db.repositories.auth import AuthEventRepository, HandshakeRepository
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    BadRequest,
    EmailTaken,
    Forbidden,
    HandshakeInvalid,
    InternalError,
    InvalidCredentials,
    InvalidSRPValue,
    TooManyAttempts,
)
from vaultapi.runtime import Runtime
from vaultapi.schemas import auth as schemas
from vaultapi.services.abuse import AbuseGuard
from vaultapi.services.context import ClientInfo
from vaultapi.services.fakes import fake_account, fake_kdf_salt
from vaultapi.services.material import (
    check_enc_string,
    parse_kdf,
    parse_verifier,
    verifier_powers,
)
from vaultapi.services.mfa import PendingLogin, PendingLogins
from vaultapi.services.sessions import Caller, IssuedTokens, SessionIssuer


@dataclass(frozen=True)
class Challenge:
    handshake_id: uuid.UUID
    kdf: KdfParams
    kdf_salt: bytes
    srp_salt: bytes
    public_b: int
    expires_in: int


@dataclass(frozen=True)
class Login:
    """A correct proof: tokens, or — on an account with a second factor — the
    pending login that the second factor finishes."""

    server_proof: bytes
    account: LoginAccount
    tokens: IssuedTokens | None
    pending: PendingLogin | None = None


log = logging.getLogger(__name__)


def _identity(email: str) -> str:
    try:
        return normalize_email(email)
    except CryptoError as exc:
        raise BadRequest(f"Invalid e-mail address: {exc}") from exc


class AuthService:
    def __init__(self, db: Db, runtime: Runtime, client: ClientInfo) -> None:
        self.db = db
        self.runtime = runtime
        self.settings = runtime.settings
        self.client = client
        self.accounts = LoginAccounts(db)
        self.handshakes = HandshakeRepository(db)
        self.events = AuthEventRepository(db)
        self.guard = AbuseGuard(db, self.settings.abuse, runtime.keys.server_secret)

    async def _event(
        self, action: str, outcome: str, reason: str = "", account_id: uuid.UUID | None = None
    ) -> None:
        await self.events.record(
            self.client.ip, self.client.user_agent, action, outcome, reason, account_id
        )

    @contextlib.asynccontextmanager
    async def _logged_if_blocked(
        self, action: str, account_id: uuid.UUID | None = None
    ) -> AsyncIterator[None]:
        """Record a refused (rate-limited) attempt, then let the 429 go on."""
        try:
            yield
        except TooManyAttempts:
            await self._event(action, "blocked", "rate_limited", account_id)
            raise

    async def _repair_verifier_powers(
        self, account: LoginAccount, verifier: int
    ) -> VerifierComb | None:
        """Powers missing (written by a worker older than them, during a
        rolling upgrade) or stale or damaged (`Account.srp_verifier_powers`):
        compute and store them now, whatever this attempt's outcome (the
        request commits its bookkeeping either way). Until then such an
        account's verify costs about 1 ms more than a fake's: repaired at the
        first attempt, it differs once, not at every probe."""
        try:
            powers = srp.verifier_powers(verifier)
        except CryptoError:  # not a group element: `server_verify` refuses it
            log.error("account %s has a stored SRP verifier outside the group", account.id)
            return None
        log.warning("account %s has no usable verifier powers: stored now", account.id)
        await self.accounts.store_verifier_powers(account.id, account.srp_verifier, powers)
        return srp.verifier_comb(verifier, powers)

    # -- registration ---------------------------------------------------------

    async def register(self, request: schemas.RegisterRequest, session: AsyncSession) -> Account:
        """`session` is the ORM session this service's `Db` runs through
        (`Db.of_session`): the account row is inserted as an ORM object."""
        now = utcnow()
        async with self._logged_if_blocked("register"):
            await self.guard.count_registration(self.client.ip, now)
        identity = _identity(request.email)
        kdf = parse_kdf(request.kdf)
        verifier = parse_verifier(request.srp.verifier)
        # Before the e-mail is checked: a taken e-mail costs the same.
        powers = verifier_powers(verifier)
        check_enc_string("protected_account_key", request.keys.protected_account_key)
        check_enc_string("protected_private_key", request.keys.protected_private_key)

        account = Account(
            email=identity,
            kdf_algorithm=request.kdf.algorithm,
            kdf_memory_kib=kdf.memory_kib,
            kdf_iterations=kdf.iterations,
            kdf_parallelism=kdf.parallelism,
            kdf_salt=bytes.fromhex(request.kdf.salt),
            srp_salt=bytes.fromhex(request.srp.salt),
            srp_verifier=verifier,
            srp_verifier_powers=powers,
            protected_account_key=request.keys.protected_account_key,
            public_key=request.keys.public_key,
            protected_private_key=request.keys.protected_private_key,
            created_at=now,
            updated_at=now,
        )
        try:
            await AccountRepository(session).add(account)
        except EmailTakenError as exc:
            await self._event("register", "failure", "email_taken")
            raise EmailTaken(
                "An account with this e-mail already exists", keep_changes=True
            ) from exc
        await self._event("register", "success", account_id=account.id)
        return account

    # -- prelogin ---------------------------------------------------------------

    async def prelogin(self, email: str) -> tuple[KdfParams, bytes]:
        identity = _identity(email)
        found = await self.accounts.kdf_for(identity)
        if found is None:
            return DEFAULT_KDF, fake_kdf_salt(self.runtime.keys.server_secret, identity)
        memory_kib, iterations, parallelism, salt = found
        return KdfParams(memory_kib, iterations, parallelism), salt

    # -- SRP --------------------------------------------------------------------

    async def start(self, email: str, public_a_hex: str) -> Challenge:
        now = utcnow()
        identity = _identity(email)
        # Each statement is whole on its own: no transaction (unless the
        # IP-block check, on a cold cache, already opened one; every error
        # below keeps changes, so the count stands either way).
        self.db.autocommit()
        # Counting the start (kept whatever follows), and the account: one
        # statement on PostgreSQL. The account is read even when the start is
        # refused, and then not used.
        counter, checked = self.guard.handshake_start_keys(identity, self.client.ip)
        started, live, account = await self.accounts.counting_start(
            identity, counter=counter, checked=checked, now=now, window=self.guard.window
        )
        async with self._logged_if_blocked("srp_start"):
            self.guard.check_handshake_start(started, live, checked, now)
        # A is checked after the start is counted (docs/protocol.md 7.3): a
        # stream of bad values spends the address's starts like good ones.
        try:
            public_a = srp.parse_group_element(public_a_hex, name="A")
        except CryptoError as exc:
            raise InvalidSRPValue(str(exc), keep_changes=True) from exc  # the count stays

        # Derived for real accounts too: both paths do the same work.
        fake = fake_account(self.runtime.keys.server_secret, identity)
        if account is None:
            kdf, kdf_salt, account_id = fake.kdf, fake.kdf_salt, None
        else:
            # A disabled account answers its real KDF parameters, as prelogin
            # does, and the fake SRP values: its proof can never succeed.
            kdf = KdfParams(account.kdf_memory_kib, account.kdf_iterations, account.kdf_parallelism)
            kdf_salt, account_id = account.kdf_salt, account.id
        if account is not None and account.status == "active":
            verifier, salt = int.from_bytes(account.srp_verifier, "big"), account.srp_salt
        else:
            verifier, salt = fake.verifier, fake.srp_salt
        try:
            challenge = srp.server_challenge(verifier)
        except CryptoError:
            # Only a stored verifier can fail here (the fake one is a group
            # element): a damaged row. Answered as a disabled account is, not
            # with a 500 that no fake ever answers; verify refuses it.
            log.error("account %s has a stored SRP verifier outside the group", account_id)
            verifier, salt = fake.verifier, fake.srp_salt
            challenge = srp.server_challenge(verifier)

        ttl = self.settings.auth.handshake_ttl_seconds
        handshake_id = uuid.uuid4()
        await self.handshakes.add(
            id=handshake_id,
            account_id=account_id,
            identity=identity,
            private_b=challenge.private_b.to_bytes(srp.N_BYTES, "big"),
            public_a=public_a.to_bytes(srp.N_BYTES, "big"),
            public_b=challenge.public_B.to_bytes(srp.N_BYTES, "big"),
            counter_key=checked[0],
            client_ip=self.client.ip,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        return Challenge(handshake_id, kdf, kdf_salt, salt, challenge.public_B, ttl)

    async def verify(
        self,
        handshake_id: uuid.UUID,
        proof_hex: str,
        device_name: str,
        step_up: Caller | None = None,
    ) -> Login:
        """A correct proof logs in: a new session, or, when the request carries
        a session of the same account (`step_up`), a fresh `last_auth_at` on it."""
        now = utcnow()
        ip_key = self.guard.ip_key(self.client.ip)
        # Single use, whatever happens next. On PostgreSQL this one statement
        # also locks the counters and reads the account (the two steps below).
        taken = await self.accounts.take_handshake(handshake_id, ip_key=ip_key, now=now)
        if taken is None or taken.handshake["expires_at"] <= now:
            await self._event("srp_verify", "failure", "handshake_invalid")
            raise HandshakeInvalid(
                "Start a new handshake: this one is unknown, used or expired", keep_changes=True
            )
        handshake = taken.handshake
        identity: str = handshake["identity"]
        # The key stored at srp/start: the one the statement above locked.
        identity_key: str = handshake["counter_key"] or self.guard.identity_key(identity)
        async with self._logged_if_blocked("srp_verify", handshake["account_id"]):
            if taken.counters is None:
                now = await self.guard.lock_and_check(identity_key, self.client.ip, now)
            else:
                now = self.guard.check_locked(identity_key, ip_key, taken.counters, now)
        try:
            client_proof = srp.parse_proof(proof_hex)
        except CryptoError as exc:
            raise InvalidSRPValue(str(exc), keep_changes=True) from exc

        if taken.counters is None:
            # The same query whether or not an account exists: a missing
            # lookup on the fake path would be measurable.
            found = await self.accounts.with_second_factors(handshake["account_id"] or uuid.uuid4())
        else:
            found = taken.account
        account, second_factors = found if found is not None else (None, [])
        if account is None or account.status != "active":
            fake = fake_account(self.runtime.keys.server_secret, identity)
            verifier, salt = fake.verifier, fake.srp_salt
            powers: bytes | None = fake.verifier_powers
        else:
            verifier, salt = int.from_bytes(account.srp_verifier, "big"), account.srp_salt
            powers = account.srp_verifier_powers
        # The same work on both paths: the fake verifier has stored powers too.
        comb = srp.verifier_comb(verifier, powers)
        if comb is None and account is not None and account.status == "active":
            comb = await self._repair_verifier_powers(account, verifier)
        challenge = srp.ServerChallenge(
            private_b=int.from_bytes(handshake["private_b"], "big"),
            public_B=int.from_bytes(handshake["public_b"], "big"),
        )
        try:
            server_proof = srp.server_verify(
                identity,
                salt,
                verifier,
                int.from_bytes(handshake["public_a"], "big"),
                challenge,
                client_proof,
                comb=comb,
            )
            if account is None or account.status != "active":
                raise srp.SRPProofError("no such account")  # fails exactly like a bad proof
        except CryptoError as exc:
            await self.guard.record_failure(identity_key, self.client.ip, now)
            if account is None:
                reason = "unknown_account"
            elif account.status != "active":
                reason = "account_disabled"  # for the log only: the caller sees the same 401
            else:
                reason = "bad_proof"
            await self._event(
                "srp_verify", "failure", reason, account.id if account is not None else None
            )
            raise InvalidCredentials("Wrong e-mail or password", keep_changes=True) from exc

        # The proof is verified: from here on, the session is issued (or, with
        # a second factor, the pending login opened).
        sessions = SessionIssuer(self.db, self.runtime, self.client)
        if step_up is not None:
            # A session's second factor was shown when it was opened: proving
            # the password again on it is enough for recent authentication.
            if step_up.account_id != account.id:
                raise Forbidden(
                    "The access token sent belongs to another account",
                    keep_changes=True,  # the handshake stays consumed
                )
            await self.guard.record_success(identity_key)
            tokens = await sessions.step_up(step_up, account.role, now)
            await self._event("reauth", "success", account_id=account.id)
            return Login(server_proof=server_proof, account=account, tokens=tokens)
        # The second factors came with the account, from a statement whose
        # snapshot may predate its wait for the locks. They only choose the
        # path: each path decides on what it reads while this transaction
        # holds the account's row (so no factor can change meanwhile).
        pending_logins = PendingLogins(self.db, self.settings.mfa)
        methods = await pending_logins.methods(account.id) if second_factors else []
        if not methods:
            issued = await sessions.finish_password_login(account, device_name=device_name, now=now)
            if issued is not None:
                await self.guard.record_success(identity_key)
                return Login(server_proof=server_proof, account=account, tokens=issued)
            methods = await pending_logins.methods(account.id)  # one added while this login waited
            if not methods:  # cannot happen: every change to second factors locks the account
                raise InternalError(
                    "the account's second factors changed under its lock",
                    keep_changes=True,  # the handshake stays consumed
                )
        # No streak reset yet: only a finished login clears the backoff.
        pending = await pending_logins.open(account.id, methods, device_name, now)
        await self._event("srp_verify", "success", "mfa_required", account.id)
        return Login(server_proof=server_proof, account=account, tokens=None, pending=pending)
