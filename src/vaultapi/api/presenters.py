"""Account data as the contract shows it: one place builds these objects for
every route that answers them (login, account, export)."""

from __future__ import annotations

from typing import Any

from vaultapi.crypto.kdf import KdfParams
from vaultapi.db.models import Account
from vaultapi.db.repositories.accounts import LoginAccount
from vaultapi.schemas import auth as schemas
from vaultapi.services.sessions import IssuedTokens


def kdf_parameters(params: KdfParams, salt: bytes) -> schemas.KdfParameters:
    return schemas.KdfParameters(
        memory_kib=params.memory_kib,
        iterations=params.iterations,
        parallelism=params.parallelism,
        salt=salt.hex(),
    )


def account_kdf(account: Account) -> schemas.KdfParameters:
    params = KdfParams(account.kdf_memory_kib, account.kdf_iterations, account.kdf_parallelism)
    return kdf_parameters(params, account.kdf_salt)


def account_keys(account: Account | LoginAccount) -> schemas.AccountKeys:
    return schemas.AccountKeys(
        protected_account_key=account.protected_account_key,
        public_key=account.public_key,
        protected_private_key=account.protected_private_key,
    )


def token_pair(tokens: IssuedTokens) -> schemas.TokenPair:
    return schemas.TokenPair(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        session_id=tokens.session_id,
    )


def login_response(account: Account | LoginAccount, tokens: IssuedTokens) -> schemas.LoginResponse:
    """What a finished login answers (after the second factor)."""
    return schemas.LoginResponse(**_login_fields(account, tokens))


def verified_login_response(
    account: Account | LoginAccount, tokens: IssuedTokens, server_proof: bytes
) -> schemas.SRPVerifyResponse:
    """What a finished login answers right after the proof: with M2."""
    return schemas.SRPVerifyResponse(**_login_fields(account, tokens), M2=server_proof.hex())


def _login_fields(account: Account | LoginAccount, tokens: IssuedTokens) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "session_id": tokens.session_id,
        "account_id": account.id,
        "keys": account_keys(account),
    }
