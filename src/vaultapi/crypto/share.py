"""Time-limited shares, suite v1: keys, access proof, ciphertext and link.

```
share_key    = 32 random bytes                          (only ever in the link's fragment)
salt         = HKDF-SHA256(share_key, info "vaultapi/v1/share/salt", 16 bytes)
pass_key     = Argon2id(NFKC(passphrase) as UTF-8, salt, SHARE_KDF, 32 bytes)   (protected only)
ikm          = share_key                  (plain)
             = share_key | pass_key       (protected)
enc_key      = HKDF-SHA256(ikm, info "vaultapi/v1/share/key", 32 bytes)
access_proof = HKDF-SHA256(ikm, info "vaultapi/v1/share/proof", 32 bytes)   (protected only)
ciphertext   = EncString(enc_key, UTF-8 secret, aad = share id, canonical UUID text)
link         = <server>/v1/shares/<share id>#v1.<base64url(share_key)>[.p]
```

All HKDF calls have no salt (RFC 5869: 32 zero bytes). The server sees the
share id, the ciphertext and (protected shares) the access proof, and stores
only an Argon2 hash of the proof. The proof depends on the share key as well
as the passphrase, so the server cannot test passphrase guesses against it;
someone holding the link but not the passphrase cannot get the ciphertext to
test guesses offline, and has `max_failed_proofs` online tries in all.
The salt comes from the share key, so the link alone tells the recipient all
it needs and every share has its own salt.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vaultapi.crypto import CryptoError, _require_bytes, encstring, kdf

SHARE_KEY_BYTES = 32
SALT_BYTES = 16
PROOF_BYTES = 32
SALT_INFO = b"vaultapi/v1/share/salt"
KEY_INFO = b"vaultapi/v1/share/key"
PROOF_INFO = b"vaultapi/v1/share/proof"
SHARE_KDF = kdf.KdfParams(memory_kib=19456, iterations=2, parallelism=1)
"""Argon2id cost for share passphrases: OWASP's minimum. A guess needs the
link (the share key is in the salt and in ikm) and, online, a proof slot."""
LINK_VERSION = "v1"
PROTECTED_FLAG = "p"
LINK_PATH = "/v1/shares/"

_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{43}")


class ShareLinkError(CryptoError):
    """Not a share link this client understands."""


@dataclass(frozen=True)
class ShareKeys:
    enc_key: bytes
    access_proof: bytes | None
    """None for a share without passphrase."""


@dataclass(frozen=True)
class ShareLink:
    base_url: str
    """The server, e.g. `https://vault.example.com` (no trailing slash)."""
    share_id: uuid.UUID
    share_key: bytes
    protected: bool


def new_share_key() -> bytes:
    return secrets.token_bytes(SHARE_KEY_BYTES)


def _hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=None, info=info).derive(ikm)


def passphrase_salt(share_key: bytes) -> bytes:
    key = _require_bytes(share_key, length=SHARE_KEY_BYTES, name="share_key")
    return _hkdf(key, SALT_INFO, SALT_BYTES)


def passphrase_key(share_key: bytes, passphrase: str) -> bytes:
    """Argon2id of the passphrase (NFKC, UTF-8) under the share's own salt."""
    if not isinstance(passphrase, str) or not passphrase:
        raise CryptoError("a share passphrase must be a non-empty string")
    kdf.check_kdf_params(SHARE_KDF)
    return kdf._argon2id(kdf.password_bytes(passphrase), passphrase_salt(share_key), SHARE_KDF)


def derive_keys(share_key: bytes, passphrase: str | None = None) -> ShareKeys:
    """The encryption key and, for a passphrase, the access proof."""
    key = _require_bytes(share_key, length=SHARE_KEY_BYTES, name="share_key")
    if passphrase is None:
        return ShareKeys(enc_key=_hkdf(key, KEY_INFO, encstring.KEY_BYTES), access_proof=None)
    ikm = key + passphrase_key(key, passphrase)
    return ShareKeys(
        enc_key=_hkdf(ikm, KEY_INFO, encstring.KEY_BYTES),
        access_proof=_hkdf(ikm, PROOF_INFO, PROOF_BYTES),
    )


def seal(keys: ShareKeys, share_id: uuid.UUID, secret: bytes, *, nonce: bytes | None = None) -> str:
    """The share's ciphertext, bound to its id. `nonce` is for test vectors only."""
    return encstring.encrypt(keys.enc_key, secret, str(share_id), nonce=nonce)


def unseal(keys: ShareKeys, share_id: uuid.UUID, ciphertext: str) -> bytes:
    """`EncStringError` when the ciphertext was altered, moved from another
    share, or the key (or passphrase) is wrong."""
    return encstring.decrypt(keys.enc_key, ciphertext, str(share_id))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_link(base_url: str, share_id: uuid.UUID, share_key: bytes, *, protected: bool) -> str:
    key = _require_bytes(share_key, length=SHARE_KEY_BYTES, name="share_key")
    fragment = f"{LINK_VERSION}.{_b64url(key)}"
    if protected:
        fragment += f".{PROTECTED_FLAG}"
    return f"{base_url.rstrip('/')}{LINK_PATH}{share_id}#{fragment}"


def parse_link(link: str) -> ShareLink:
    """Strict: http(s) URL, path ending in `/v1/shares/<uuid>`, fragment
    `v1.<43 base64url characters>` optionally followed by `.p`."""
    if not isinstance(link, str):
        raise ShareLinkError("a share link must be a string")
    try:
        parts = urlsplit(link.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:  # "http://[", "http://host:99999"
        raise ShareLinkError("a share link is an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ShareLinkError("a share link is an http(s) URL")
    if parts.query:
        raise ShareLinkError("a share link has no query string")
    prefix, separator, id_text = parts.path.rpartition(LINK_PATH)
    if not separator:
        raise ShareLinkError(f"a share link's path ends in {LINK_PATH}<share id>")
    try:
        share_id = uuid.UUID(id_text)
    except ValueError:
        raise ShareLinkError("the share id in the link is not a UUID") from None
    if str(share_id) != id_text:
        raise ShareLinkError("the share id in the link is not a canonical UUID")
    fields = parts.fragment.split(".")
    protected = len(fields) == 3 and fields[2] == PROTECTED_FLAG
    well_formed = len(fields) == 2 or protected
    if not well_formed or fields[0] != LINK_VERSION:
        raise ShareLinkError(
            f"the link's fragment must be {LINK_VERSION}.<key>[.{PROTECTED_FLAG}] "
            "(was the link cut off?)"
        )
    if _KEY_TEXT.fullmatch(fields[1]) is None:
        raise ShareLinkError("the key in the link's fragment is not 43 base64url characters")
    share_key = base64.urlsafe_b64decode(fields[1] + "=")
    if _b64url(share_key) != fields[1]:
        raise ShareLinkError("the key in the link's fragment is not canonical base64url")
    base_url = f"{parts.scheme}://{parts.netloc}{prefix}"
    return ShareLink(base_url=base_url, share_id=share_id, share_key=share_key, protected=protected)
