"""Account data as the contract shows it: one place builds these objects for
every route that answers them (login, account, export)."""

from __future__ import annotations

from vaultapi.crypto.kdf import KdfParams
from vaultapi.db.models import Account
from vaultapi.db.repositories.accounts import LoginAccount
from vaultapi.schemas import auth as schemas


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
