"""Second factors: TOTP factors, recovery codes, WebAuthn credentials and
ceremonies, and logins waiting for their second step (`mfa_challenges`).

Single use is enforced here, by the statement itself, so that two workers
racing with the same code, challenge or counter cannot both win:
- a TOTP step is accepted by an UPDATE that requires a later step than the last;
- a recovery code is spent by an UPDATE that requires it unspent;
- a WebAuthn sign counter moves only forward, by an UPDATE that requires it;
- ceremonies are taken by DELETE … RETURNING;
- an `mfa_token`'s row is locked (FOR UPDATE) for the whole second step,
  after the account's row (the lock order: `vaultapi.services.mfa`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlalchemy.sql.selectable import Exists
from sqlmodel import col

from vaultapi.db.direct import Db, Query, Row
from vaultapi.db.models import (
    MFAChallenge,
    RecoveryCode,
    TOTPFactor,
    WebAuthnCeremony,
    WebAuthnCredential,
)
from vaultapi.db.repositories import rowcount, sa_table

_TOTP, _KEYS, _CODES = sa_table(TOTPFactor), sa_table(WebAuthnCredential), sa_table(RecoveryCode)
_CHALLENGES = sa_table(MFAChallenge)


def _totp_on(account_id: ColumnElement[Any]) -> Exists:
    return exists().where(_TOTP.c.account_id == account_id, _TOTP.c.confirmed_at.is_not(None))


def _has_security_key(account_id: ColumnElement[Any]) -> Exists:
    return exists().where(_KEYS.c.account_id == account_id)


def has_second_factor(account_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether a login of the account needs a second step (`second_factor_methods`
    is not empty): a confirmed TOTP factor or a security key."""
    return or_(_totp_on(account_id), _has_security_key(account_id))


def second_factor_columns(account_id: ColumnElement[Any]) -> list[Label[bool]]:
    """Whether the account has a confirmed TOTP factor, a security key, and an
    unspent recovery code: three columns that any login query can carry."""
    return [
        _totp_on(account_id).label("totp"),
        _has_security_key(account_id).label("webauthn"),
        exists()
        .where(_CODES.c.account_id == account_id, _CODES.c.used_at.is_(None))
        .label("recovery_code"),
    ]


def second_factor_methods(row: Row) -> list[str]:
    """The methods that can finish a login, from `second_factor_columns`.
    Recovery codes count only beside a factor they stand in for."""
    methods = [name for name in ("totp", "webauthn") if row[name]]
    if methods and row["recovery_code"]:
        methods.append("recovery_code")
    return methods


_METHODS = Query(select(*second_factor_columns(bindparam("account"))))
_ADD_CHALLENGE = Query(
    insert(_CHALLENGES).values(
        failures=0,  # the model's default is Python-side: Core through asyncpg needs it here
        **{
            name: bindparam(name)
            for name in ("token_hash", "account_id", "device_name", "created_at", "expires_at")
        },
    )
)


class LoginFactors:
    """What a login needs of second factors, on a `Db` (`vaultapi.db.direct`):
    the account's methods (after every correct proof) and the pending login."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def methods(self, account_id: uuid.UUID) -> list[str]:
        """The second factors that can finish this account's login, in one query."""
        row = await self.db.fetchrow(_METHODS, account=account_id)
        assert row is not None  # noqa: S101 - a SELECT without FROM answers one row
        return second_factor_methods(row)

    async def add_challenge(
        self,
        *,
        token_hash: bytes,
        account_id: uuid.UUID,
        device_name: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        await self.db.execute(
            _ADD_CHALLENGE,
            token_hash=token_hash,
            account_id=account_id,
            device_name=device_name,
            created_at=created_at,
            expires_at=expires_at,
        )


class MFARepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- what an account has ----------------------------------------------------

    async def methods(self, account_id: uuid.UUID) -> list[str]:
        """`LoginFactors.methods`, in this session's transaction."""
        return await LoginFactors(Db.of_session(self.session)).methods(account_id)

    # -- TOTP -----------------------------------------------------------------

    async def totp(self, account_id: uuid.UUID) -> TOTPFactor | None:
        return await self.session.get(TOTPFactor, account_id, populate_existing=True)

    async def put_totp(self, factor: TOTPFactor) -> None:
        """A new pending enrolment replaces an earlier unconfirmed one."""
        await self.session.execute(
            delete(TOTPFactor).where(col(TOTPFactor.account_id) == factor.account_id)
        )
        self.session.add(factor)
        await self.session.flush()

    async def confirm_totp(
        self, account_id: uuid.UUID, sealed_secret: str, step: int, now: datetime
    ) -> bool:
        """Turn on the pending secret the code was checked against — not one
        that a concurrent new enrolment put in its place."""
        result = await self.session.execute(
            update(TOTPFactor)
            .where(
                col(TOTPFactor.account_id) == account_id,
                col(TOTPFactor.sealed_secret) == sealed_secret,
                col(TOTPFactor.confirmed_at).is_(None),
            )
            .values(confirmed_at=now, last_used_step=step)
        )
        return rowcount(result) == 1

    async def accept_totp_step(self, account_id: uuid.UUID, step: int) -> bool:
        """Spend time step `step`: false if it (or a later one) was used already."""
        result = await self.session.execute(
            update(TOTPFactor)
            .where(
                col(TOTPFactor.account_id) == account_id,
                col(TOTPFactor.confirmed_at).is_not(None),
                or_(
                    col(TOTPFactor.last_used_step).is_(None), col(TOTPFactor.last_used_step) < step
                ),
            )
            .values(last_used_step=step)
        )
        return rowcount(result) == 1

    async def delete_totp(self, account_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(TOTPFactor).where(col(TOTPFactor.account_id) == account_id)
        )
        return rowcount(result) == 1

    # -- recovery codes -----------------------------------------------------------

    async def replace_recovery_codes(
        self, account_id: uuid.UUID, code_hashes: Sequence[str], now: datetime
    ) -> None:
        await self.delete_recovery_codes(account_id)
        self.session.add_all(
            RecoveryCode(account_id=account_id, code_hash=code_hash, created_at=now)
            for code_hash in code_hashes
        )
        await self.session.flush()

    async def delete_recovery_codes(self, account_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(RecoveryCode).where(col(RecoveryCode.account_id) == account_id)
        )

    async def unused_recovery_codes(self, account_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
        result = await self.session.execute(
            select(col(RecoveryCode.id), col(RecoveryCode.code_hash)).where(
                col(RecoveryCode.account_id) == account_id, col(RecoveryCode.used_at).is_(None)
            )
        )
        return [(row[0], row[1]) for row in result]

    async def spend_recovery_code(
        self, account_id: uuid.UUID, code_id: uuid.UUID, now: datetime
    ) -> bool:
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                col(RecoveryCode.id) == code_id,
                col(RecoveryCode.account_id) == account_id,
                col(RecoveryCode.used_at).is_(None),
            )
            .values(used_at=now)
        )
        return rowcount(result) == 1

    async def count_unused_recovery_codes(self, account_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(RecoveryCode)
            .where(col(RecoveryCode.account_id) == account_id, col(RecoveryCode.used_at).is_(None))
        )
        return int(result.scalar_one())

    # -- WebAuthn credentials -----------------------------------------------------

    async def credentials(self, account_id: uuid.UUID) -> Sequence[WebAuthnCredential]:
        result = await self.session.execute(
            select(WebAuthnCredential)
            .where(col(WebAuthnCredential.account_id) == account_id)
            .order_by(col(WebAuthnCredential.created_at))
        )
        return result.scalars().all()

    async def credential(
        self, account_id: uuid.UUID, credential_id: bytes
    ) -> WebAuthnCredential | None:
        result = await self.session.execute(
            select(WebAuthnCredential).where(
                col(WebAuthnCredential.account_id) == account_id,
                col(WebAuthnCredential.credential_id) == credential_id,
            )
        )
        return result.scalar_one_or_none()

    async def add_credential(self, credential: WebAuthnCredential) -> bool:
        """False when the credential id is registered already (also under a race)."""
        try:
            async with self.session.begin_nested():
                self.session.add(credential)
        except IntegrityError:
            return False
        return True

    async def advance_sign_count(
        self, credential_row_id: uuid.UUID, new_count: int, now: datetime
    ) -> bool:
        """Record a use. The counter must move forward, unless the authenticator
        does not keep one (always 0): a count that goes back means a clone."""
        forward = col(WebAuthnCredential.sign_count) < new_count
        if new_count == 0:
            forward = col(WebAuthnCredential.sign_count) == 0
        result = await self.session.execute(
            update(WebAuthnCredential)
            .where(col(WebAuthnCredential.id) == credential_row_id, forward)
            .values(sign_count=new_count, last_used_at=now)
        )
        return rowcount(result) == 1

    async def rename_credential(
        self, account_id: uuid.UUID, credential_row_id: uuid.UUID, name: str
    ) -> WebAuthnCredential | None:
        """The renamed key, or None if the account has no key with this id."""
        result = await self.session.execute(
            update(WebAuthnCredential)
            .where(
                col(WebAuthnCredential.id) == credential_row_id,
                col(WebAuthnCredential.account_id) == account_id,
            )
            .values(name=name)
            .returning(WebAuthnCredential)
        )
        return result.scalar_one_or_none()

    async def delete_credential(self, account_id: uuid.UUID, credential_row_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(WebAuthnCredential).where(
                col(WebAuthnCredential.id) == credential_row_id,
                col(WebAuthnCredential.account_id) == account_id,
            )
        )
        return rowcount(result) == 1

    async def count_credentials(self, account_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(WebAuthnCredential)
            .where(col(WebAuthnCredential.account_id) == account_id)
        )
        return int(result.scalar_one())

    # -- ceremonies -------------------------------------------------------------

    async def add_ceremony(self, ceremony: WebAuthnCeremony) -> None:
        self.session.add(ceremony)
        await self.session.flush()

    async def take_ceremony(
        self,
        ceremony_id: uuid.UUID,
        *,
        account_id: uuid.UUID,
        purpose: str,
        mfa_token_hash: bytes | None = None,
    ) -> WebAuthnCeremony | None:
        """Delete and return the ceremony if it is this account's, for this
        purpose (and this login): whoever gets it is the only one."""
        statement = delete(WebAuthnCeremony).where(
            col(WebAuthnCeremony.id) == ceremony_id,
            col(WebAuthnCeremony.account_id) == account_id,
            col(WebAuthnCeremony.purpose) == purpose,
        )
        if mfa_token_hash is not None:
            statement = statement.where(col(WebAuthnCeremony.mfa_token_hash) == mfa_token_hash)
        result = await self.session.execute(statement.returning(WebAuthnCeremony))
        return result.scalar_one_or_none()

    # -- logins waiting for a second factor ---------------------------------------

    async def challenge(self, token_hash: bytes, now: datetime) -> MFAChallenge | None:
        """The live challenge, not locked: which account's row to lock first."""
        result = await self.session.execute(
            select(MFAChallenge).where(
                col(MFAChallenge.token_hash) == token_hash, col(MFAChallenge.expires_at) > now
            )
        )
        return result.scalar_one_or_none()

    async def lock_challenge(self, token_hash: bytes, now: datetime) -> MFAChallenge | None:
        """The live challenge, locked until the end of the request: concurrent
        attempts with one `mfa_token` are judged one after another."""
        result = await self.session.execute(
            select(MFAChallenge)
            .where(col(MFAChallenge.token_hash) == token_hash, col(MFAChallenge.expires_at) > now)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def count_failure(self, token_hash: bytes, max_failures: int) -> int:
        """One more wrong factor; the challenge is deleted at `max_failures`.
        Returns the attempts left."""
        result = await self.session.execute(
            update(MFAChallenge)
            .where(col(MFAChallenge.token_hash) == token_hash)
            .values(failures=col(MFAChallenge.failures) + 1)
            .returning(col(MFAChallenge.failures))
        )
        failures = result.scalar_one_or_none()
        if failures is None or failures >= max_failures:
            await self.delete_challenge(token_hash)
            return 0
        return max_failures - int(failures)

    async def delete_pending_logins(self, account_id: uuid.UUID) -> None:
        """After a password or second-factor change, logins half-way through
        under the old state must start over."""
        await self.session.execute(
            delete(WebAuthnCeremony).where(
                col(WebAuthnCeremony.account_id) == account_id,
                col(WebAuthnCeremony.purpose) == "authenticate",
            )
        )
        await self.session.execute(
            delete(MFAChallenge).where(col(MFAChallenge.account_id) == account_id)
        )

    async def delete_challenge(self, token_hash: bytes) -> None:
        await self.session.execute(
            delete(MFAChallenge).where(col(MFAChallenge.token_hash) == token_hash)
        )
        await self.delete_ceremonies_of(token_hash)

    async def delete_ceremonies_of(self, token_hash: bytes) -> None:
        await self.session.execute(
            delete(WebAuthnCeremony).where(col(WebAuthnCeremony.mfa_token_hash) == token_hash)
        )

    async def purge_expired(self, now: datetime, *, pending_totp_before: datetime) -> int:
        """Expired logins and ceremonies, and TOTP enrolments never confirmed."""
        purged = 0
        for model in (MFAChallenge, WebAuthnCeremony):
            result = await self.session.execute(delete(model).where(col(model.expires_at) < now))
            purged += rowcount(result)
        pending = await self.session.execute(
            delete(TOTPFactor).where(
                col(TOTPFactor.confirmed_at).is_(None),
                col(TOTPFactor.created_at) < pending_totp_before,
            )
        )
        return purged + rowcount(pending)
