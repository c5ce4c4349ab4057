"""Changes to the account itself: password, e-mail, deletion.

All three need recent authentication (a fresh SRP proof on this session), so
a stolen access token alone cannot take the account over or destroy it.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.crypto import CryptoError
from vaultapi.crypto.kdf import normalize_email
from vaultapi.db.direct import Db
from vaultapi.db.models import Account
from vaultapi.db.repositories.accounts import AccountRepository
from vaultapi.db.repositories.auth import AuthEventRepository, SessionRepository
from vaultapi.db.repositories.mfa import MFARepository
from vaultapi.db.types import utcnow
from vaultapi.errors import BadRequest, EmailTaken
from vaultapi.schemas import auth as schemas
from vaultapi.services import audit
from vaultapi.services.context import ClientInfo
from vaultapi.services.material import (
    check_enc_string,
    parse_kdf,
    parse_verifier,
    verifier_powers,
)
from vaultapi.services.sessions import CurrentSession, SessionService, lock_own_account


class AccountService:
    def __init__(self, session: AsyncSession, sessions: SessionService, client: ClientInfo):
        self.db = session
        self.sessions = sessions
        self.client = client
        self.events = AuthEventRepository(Db.of_session(session))

    async def _event(self, account: Account, action: str, reason: str = "") -> None:
        await self.events.record(
            self.client.ip, self.client.user_agent, action, "success", reason, account.id
        )

    async def change_password(
        self, current: CurrentSession, request: schemas.ChangePasswordRequest
    ) -> int:
        """Replace the KDF, SRP and key-wrapping material; end every other session.
        Returns how many sessions were ended."""
        self.sessions.require_recent_auth(current)
        params = parse_kdf(request.kdf)
        verifier = parse_verifier(request.srp.verifier)
        check_enc_string("protected_account_key", request.protected_account_key)
        account = current.account
        # The account's row first, as every transaction that also takes its
        # pending logins (`vaultapi.services.mfa`, lock order): a second step
        # holding it finishes first, and its session is ended below with the
        # others instead of outliving the old password.
        await lock_own_account(self.db, current)
        now = utcnow()
        account.kdf_algorithm = request.kdf.algorithm
        account.kdf_memory_kib = params.memory_kib
        account.kdf_iterations = params.iterations
        account.kdf_parallelism = params.parallelism
        account.kdf_salt = bytes.fromhex(request.kdf.salt)
        account.srp_salt = bytes.fromhex(request.srp.salt)
        account.srp_verifier = verifier
        account.srp_verifier_powers = verifier_powers(verifier)
        account.protected_account_key = request.protected_account_key
        account.updated_at = now
        ended = await SessionRepository(self.db).revoke(
            account.id, now=now, reason="password_change", keep=current.session.id
        )
        await MFARepository(self.db).delete_pending_logins(account.id)  # proven with the old one
        await self._event(account, "password_change")
        await audit.record(
            self.db, self.client, account.id, "password_change", f"{ended} sessions ended"
        )
        return ended

    async def change_email(
        self, current: CurrentSession, request: schemas.ChangeEmailRequest
    ) -> Account:
        self.sessions.require_recent_auth(current)
        try:
            identity = normalize_email(request.email)
        except CryptoError as exc:
            raise BadRequest(f"Invalid e-mail address: {exc}") from exc
        verifier = parse_verifier(request.srp.verifier)
        account = current.account
        account.email = identity
        account.srp_salt = bytes.fromhex(request.srp.salt)
        account.srp_verifier = verifier
        account.srp_verifier_powers = verifier_powers(verifier)
        account.updated_at = utcnow()
        try:
            async with self.db.begin_nested():
                await self.db.flush()
        except IntegrityError as exc:
            raise EmailTaken("Another account uses this e-mail") from exc
        await self._event(account, "email_change")
        await audit.record(self.db, self.client, account.id, "email_change")
        return account

    async def delete(self, current: CurrentSession) -> None:
        """Delete the account and everything that cascades from it (sessions,
        tokens, handshakes, later the vault). The login log keeps its rows,
        without the account."""
        self.sessions.require_recent_auth(current)
        # The row first: two deletions at once otherwise both take KEY SHARE
        # for their log rows and then wait for each other to delete.
        accounts = AccountRepository(self.db)
        if not await accounts.lock(current.account.id):
            return  # deleted meanwhile by the other: what was asked for is done
        # The log row outlives the account (its account_id becomes NULL): keep the id.
        await self._event(current.account, "account_delete", reason=str(current.account.id))
        await accounts.delete(current.account.id)
