"""Server secrets: the JWT signing key and the secret behind the enumeration fakes.

Production takes them from settings only and refuses to start when one is
missing or weak. Development mode fills the gaps from `<data_dir>/secrets.json`,
generating that file on first start (mode 0600) and warning loudly on every
start, so that `vaultapi serve` works with no configuration at all.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vaultapi.config import MIN_SECRET_BYTES, AuthSettings, Settings
from vaultapi.errors import ConfigurationError
from vaultapi.storage import ensure_private_dir

log = logging.getLogger(__name__)

DEV_SECRETS_FILE = "secrets.json"


@dataclass(frozen=True, repr=False)
class ServerKeys:
    """Resolved secrets. `repr=False`: they must never be printed by accident."""

    jwt_algorithm: Literal["EdDSA", "HS256"]
    jwt_private_key: Ed25519PrivateKey | None
    """Present whenever `jwt_algorithm` is EdDSA."""
    jwt_secret: bytes | None
    """Present whenever `jwt_algorithm` is HS256."""
    server_secret: bytes
    development_file: Path | None = None
    accepted_public_keys: tuple[Ed25519PublicKey, ...] = ()
    """Other Ed25519 keys whose tokens verify (key rotation)."""
    accepted_secrets: tuple[bytes, ...] = ()
    """Other HS256 keys whose tokens verify (key rotation)."""


def ed25519_private_from_pem(pem: str) -> Ed25519PrivateKey | None:
    # Environment files cannot hold newlines: accept the PEM with literal "\n"s.
    pem = pem.replace("\\n", "\n").strip() + "\n"
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PrivateKey) else None


def ed25519_public_from_pem(pem: str) -> Ed25519PublicKey | None:
    """A public key in PEM (SubjectPublicKeyInfo), `\\n` escapes accepted."""
    pem = pem.replace("\\n", "\n").strip() + "\n"
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


MIN_DISTINCT_CHARACTERS = 10
"""A 32-byte secret made of fewer distinct characters than this ('aaaa…',
'abababab…') is a placeholder, not randomness."""


def _weakness(name: str, secret: str) -> str | None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"{name} is shorter than {MIN_SECRET_BYTES} bytes"
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return f"{name} is not random (too few distinct characters); use `vaultapi keygen`"
    return None


def explicit_secret_problems(auth: AuthSettings, *, require_all: bool) -> list[str]:
    """What is wrong with the secrets given in settings. With `require_all`,
    a missing secret that the configured algorithm needs is a problem too."""
    problems: list[str] = []
    if auth.server_secret is None:
        if require_all:
            problems.append(
                f"VAULTAPI_AUTH__SERVER_SECRET is not set (at least {MIN_SECRET_BYTES} random "
                "bytes, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
    elif weakness := _weakness(
        "VAULTAPI_AUTH__SERVER_SECRET", auth.server_secret.get_secret_value()
    ):
        problems.append(weakness)

    if auth.jwt_private_key is None:
        if require_all and auth.jwt_algorithm == "EdDSA":
            problems.append(
                "VAULTAPI_AUTH__JWT_PRIVATE_KEY is not set (an Ed25519 private key in PKCS#8 "
                "PEM; `vaultapi keygen` prints one)"
            )
    elif ed25519_private_from_pem(auth.jwt_private_key.get_secret_value()) is None:
        problems.append("VAULTAPI_AUTH__JWT_PRIVATE_KEY is not an unencrypted Ed25519 PEM key")

    if auth.jwt_secret is None:
        if require_all and auth.jwt_algorithm == "HS256":
            problems.append(
                f"VAULTAPI_AUTH__JWT_SECRET is not set (HS256 needs at least "
                f"{MIN_SECRET_BYTES} random bytes)"
            )
    elif weakness := _weakness("VAULTAPI_AUTH__JWT_SECRET", auth.jwt_secret.get_secret_value()):
        problems.append(weakness)
    elif auth.server_secret is not None and (
        auth.jwt_secret.get_secret_value() == auth.server_secret.get_secret_value()
    ):
        problems.append("VAULTAPI_AUTH__JWT_SECRET must differ from VAULTAPI_AUTH__SERVER_SECRET")

    for n, pem in enumerate(auth.jwt_accepted_public_keys):
        if ed25519_public_from_pem(pem) is None:
            problems.append(
                f"VAULTAPI_AUTH__JWT_ACCEPTED_PUBLIC_KEYS[{n}] is not an Ed25519 public key in PEM"
            )
    for n, accepted in enumerate(auth.jwt_accepted_secrets):
        name = f"VAULTAPI_AUTH__JWT_ACCEPTED_SECRETS[{n}]"
        if weakness := _weakness(name, accepted.get_secret_value()):
            problems.append(weakness)
    return problems


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def generate_ed25519_pem() -> str:
    return private_pem(Ed25519PrivateKey.generate())


def _new_development_secrets() -> dict[str, str]:
    return {
        "server_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "jwt_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "jwt_private_key": generate_ed25519_pem(),
    }


def _read_or_create_development_secrets(path: Path) -> dict[str, str]:
    """Create the file atomically (write a private temp file, then hard-link it
    into place), so that several workers starting at once agree on one set."""
    ensure_private_dir(path.parent)
    if not path.exists():
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".secrets-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as tmp:
                json.dump(_new_development_secrets(), tmp, indent=2)
                tmp.flush()
                os.fsync(tmp.fileno())
            with contextlib.suppress(FileExistsError):  # another worker won: use its file
                os.link(tmp_name, path)
        finally:
            os.unlink(tmp_name)
    if path.is_symlink() or not path.is_file():
        raise ConfigurationError([f"{path} must be a regular file, not a link or directory"])
    if path.stat().st_mode & 0o077:
        log.warning("tightening permissions of %s to 0600", path)
        path.chmod(0o600)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise TypeError("not an object of strings")
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            [f"{path} is not a valid development secrets file ({exc}); delete it to regenerate"]
        ) from exc
    return data


def load_server_keys(settings: Settings) -> ServerKeys:
    auth = settings.auth
    problems = explicit_secret_problems(auth, require_all=settings.is_production)
    if problems:
        raise ConfigurationError(problems)

    given = {
        "server_secret": auth.server_secret,
        "jwt_private_key": auth.jwt_private_key,
        "jwt_secret": auth.jwt_secret,
    }
    values = {name: secret.get_secret_value() for name, secret in given.items() if secret}
    development_file: Path | None = None
    if len(values) < len(given) and not settings.is_production:
        development_file = settings.data_dir / DEV_SECRETS_FILE
        stored = _read_or_create_development_secrets(development_file)
        missing = [name for name in given if name not in values and name not in stored]
        if missing:
            raise ConfigurationError(
                [f"{development_file} lacks {', '.join(missing)}; delete it to regenerate"]
            )
        values = {**stored, **values}
        log.warning(
            "DEVELOPMENT MODE: using server secrets generated in %s. Never run production "
            "like this: set VAULTAPI_ENV=production with explicit secrets and a database.",
            development_file,
        )

    private_key = None
    if "jwt_private_key" in values:
        private_key = ed25519_private_from_pem(values["jwt_private_key"])
        if private_key is None:
            raise ConfigurationError([f"{development_file}: jwt_private_key is not an Ed25519 key"])
    jwt_secret = values.get("jwt_secret")
    return ServerKeys(
        jwt_algorithm=auth.jwt_algorithm,
        jwt_private_key=private_key,
        jwt_secret=jwt_secret.encode() if jwt_secret is not None else None,
        server_secret=values["server_secret"].encode(),
        development_file=development_file,
        accepted_public_keys=tuple(
            key
            for pem in auth.jwt_accepted_public_keys
            if (key := ed25519_public_from_pem(pem)) is not None  # checked above
        ),
        accepted_secrets=tuple(s.get_secret_value().encode() for s in auth.jwt_accepted_secrets),
    )
