"""docs/protocol.md tells the truth about the code, and is enough to build a client.

- Every constant in the doc's appendix (and its KDF and abuse tables) matches
  the code's constant, and the code's constants are all in the appendix.
- Every `/v1/auth` and `/v1/account` endpoint of the OpenAPI contract, and
  every problem `code` they declare, is in the doc with the right status.
- The JSON examples validate against the request/response models and agree
  with the test vectors.
- The formulas, *as written in the doc* (group, PAD/MIN, k, x, v, A, B, u,
  S, K, M1, M2, HKDF as HMAC, EncString), recomputed here with hashlib, hmac
  and pow, reproduce docs/vectors/v1.json; a second case exercises every
  leading-zero quirk against the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

from vaultapi import errors
from vaultapi.client import api as client_api
from vaultapi.config import (
    AbuseSettings,
    AuthSettings,
    DatabaseSettings,
    MFASettings,
    ShareSettings,
)
from vaultapi.crypto import CryptoError, encstring, kdf, recovery_codes, srp, tokens, totp, vectors
from vaultapi.crypto import share as share_crypto
from vaultapi.db.direct import Db
from vaultapi.schemas import auth as auth_schemas
from vaultapi.schemas import mfa as mfa_schemas
from vaultapi.schemas import problem as problem_schemas
from vaultapi.schemas import shares as share_schemas
from vaultapi.services import material
from vaultapi.services.abuse import STREAK_MEMORY, AbuseGuard, ip_bucket
from vaultapi.services.fakes import fake_account
from vaultapi.services.shares import PROOF_HASHER

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "protocol.md"
VECTORS = ROOT / "docs" / "vectors" / "v1.json"
OPENAPI = ROOT / "openapi" / "openapi.json"

DOCUMENTED_PREFIXES = ("/v1/auth", "/v1/account")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def vector_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return data


# --- reading the doc ---------------------------------------------------------------------------


def _after_marker(doc: str, marker: str) -> str:
    tag = f"<!-- {marker} -->"
    assert doc.count(tag) == 1, f"docs/protocol.md must contain {tag} exactly once"
    return doc.split(tag, 1)[1]


def _table_after(doc: str, marker: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table after a marker, without the header."""
    rows: list[list[str]] = []
    started = False
    for line in _after_marker(doc, marker).splitlines():
        if line.startswith("|"):
            started = True
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif started:
            break
    assert len(rows) > 2, f"no table after <!-- {marker} -->"
    return rows[2:]


def _code_block_after(doc: str, marker: str) -> str:
    match = re.search(r"```[a-z]*\n(.*?)\n\s*```", _after_marker(doc, marker), re.DOTALL)
    assert match is not None, f"no code block after <!-- {marker} -->"
    return match.group(1)


def _unquote(cell: str) -> str:
    assert cell.startswith("`"), cell
    assert cell.endswith("`"), cell
    return cell[1:-1]


def _row_by_name(doc: str, name: str) -> list[str]:
    """The cells of the (unique) table row whose first cell starts with `name` in backticks."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in doc.splitlines()
        if line.startswith(f"| `{name}`")
    ]
    assert len(rows) == 1, f"expected one table row for `{name}`, found {len(rows)}"
    return rows[0]


def _examples(doc: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pattern = re.compile(r"<!-- example: (\S+) -->\s*```json\n(.*?)\n\s*```", re.DOTALL)
    for name, body in pattern.findall(doc):
        assert name not in found, f"two examples named {name}"
        found[name] = json.loads(body)
    return found


def _doc_constants(doc: str) -> dict[str, str]:
    constants: dict[str, str] = {}
    for row in _table_after(doc, "constants"):
        name, value = _unquote(row[0]), _unquote(row[1])
        assert name not in constants, f"constant {name} listed twice"
        constants[name] = value
    return constants


# --- the code's constants ----------------------------------------------------------------------


def _schema_property(model: type[BaseModel], field: str) -> dict[str, Any]:
    prop: dict[str, Any] = model.model_json_schema()["properties"][field]
    return prop


def _single(values: set[object], what: str) -> object:
    assert len(values) == 1, f"the code disagrees with itself about {what}: {values}"
    return values.pop()


def _access_token_max_length() -> int:
    """The longest token `verify_access_token` looks at, found from its behaviour."""
    keys = tokens.TokenKeys("HS256", hmac_secret=b"k" * 32)

    def too_long(length: int) -> bool:
        try:
            tokens.verify_access_token(keys, "a" * length, issuer="i", audience="a")
        except tokens.TokenError as exc:
            return str(exc) == "token too long"
        raise AssertionError("a string of 'a's verified as a token")

    low, high = 1, 1 << 20
    assert not too_long(low)
    assert too_long(high)
    while high - low > 1:
        middle = (low + high) // 2
        if too_long(middle):
            high = middle
        else:
            low = middle
    return low


def _code_constants() -> dict[str, object]:
    auth, abuse = AuthSettings(), AbuseSettings()
    key_schema = _schema_property(auth_schemas.AccountKeys, "protected_account_key")
    public_key_pattern = _schema_property(auth_schemas.AccountKeys, "public_key")["pattern"]
    public_key_chars = re.fullmatch(r"\^\[A-Za-z0-9_-\]\{(\d+)\}\$", public_key_pattern)
    assert public_key_chars is not None, public_key_pattern
    element_schema = _schema_property(auth_schemas.SRPStartRequest, "A")
    constants: dict[str, object] = {
        "suite": kdf.SUITE,
        "kdf.algorithm": kdf.DEFAULT_KDF.algorithm,
        "kdf.argon2_version": f"0x{ARGON2_VERSION:x}",
        "kdf.salt_bytes": kdf.KDF_SALT_BYTES,
        "kdf.master_key_bytes": kdf.MASTER_KEY_BYTES,
        "hkdf.auth_info": kdf.AUTH_INFO.decode("ascii"),
        "hkdf.wrap_info": kdf.WRAP_INFO.decode("ascii"),
        "hkdf.subkey_bytes": kdf.SUBKEY_BYTES,
        "email.max_length": kdf.EMAIL_MAX_LENGTH,
        "encstring.version": encstring.VERSION,
        "encstring.key_bytes": encstring.KEY_BYTES,
        "encstring.nonce_bytes": encstring.NONCE_BYTES,
        "encstring.tag_bytes": encstring.TAG_BYTES,
        "encstring.max_length": _single(
            {
                material.ENC_STRING_MAX,
                key_schema["maxLength"],
            },
            "the EncString maximum length",
        ),
        "encstring.min_length": key_schema["minLength"],
        "aad.account_key": _single(
            {client_api.ACCOUNT_KEY_AAD, vectors.ACCOUNT_KEY_AAD}, "the account-key AAD"
        ),
        "aad.private_key": client_api.PRIVATE_KEY_AAD,
        "x25519.public_key_chars": int(public_key_chars.group(1)),
        "srp.generator": srp.G,
        "srp.hash": srp._V1.hash_func().name,
        "srp.n_bits": srp.N.bit_length(),
        "srp.n_bytes": srp.N_BYTES,
        "srp.element_hex_width": _single(
            {srp.HEX_WIDTH, element_schema["minLength"], element_schema["maxLength"]},
            "the width of a group element",
        ),
        "srp.salt_bytes": srp.SRP_SALT_BYTES,
        "srp.ephemeral_bits": srp.EPHEMERAL_BITS,
        "srp.proof_bytes": srp.PROOF_BYTES,
        "srp.proof_hex_width": srp.PROOF_HEX_WIDTH,
        "token.refresh_prefix": tokens.REFRESH_TOKEN_PREFIX,
        "token.refresh_random_bytes": tokens._REFRESH_TOKEN_BYTES,
        "token.refresh_length": len(tokens.new_refresh_token()),
        "token.refresh_request_max_length": _schema_property(
            auth_schemas.RefreshRequest, "refresh_token"
        )["maxLength"],
        "token.access_max_length": _access_token_max_length(),
        "token.leeway_seconds": tokens._LEEWAY_SECONDS,
        "token.required_claims": " ".join(tokens._REQUIRED_CLAIMS),
        "problem.type_prefix": errors.PROBLEM_TYPE_PREFIX,
        "problem.media_type": errors.PROBLEM_MEDIA_TYPE,
    }
    for bound, params in (
        ("default", kdf.DEFAULT_KDF),
        ("minimum", kdf.MINIMUM_KDF),
        ("maximum", kdf.MAXIMUM_KDF),
    ):
        for field in ("memory_kib", "iterations", "parallelism"):
            constants[f"kdf.{bound}.{field}"] = getattr(params, field)
    for field in (
        "jwt_algorithm",
        "issuer",
        "audience",
        "access_token_ttl_seconds",
        "refresh_token_ttl_days",
        "handshake_ttl_seconds",
        "recent_auth_seconds",
        "max_sessions_per_account",
    ):
        constants[f"config.auth.{field}"] = getattr(auth, field)
    for field in AbuseSettings.model_fields:
        constants[f"config.abuse.{field}"] = getattr(abuse, field)
    mfa = MFASettings()
    for field in (
        "token_ttl_seconds",
        "token_max_failures",
        "totp_drift_steps",
        "totp_enrolment_ttl_seconds",
        "recovery_codes",
        "webauthn_challenge_ttl_seconds",
        "webauthn_max_credentials",
    ):
        constants[f"config.mfa.{field}"] = getattr(mfa, field)
    constants["token.mfa_prefix"] = tokens.MFA_TOKEN_PREFIX
    constants["totp.digits"] = totp.DIGITS
    constants["totp.period_seconds"] = totp.PERIOD_SECONDS
    constants["totp.secret_bytes"] = totp.SECRET_BYTES
    constants["recovery_code.characters"] = recovery_codes.CODE_CHARACTERS
    constants["abuse.streak_memory_seconds"] = int(STREAK_MEMORY.total_seconds())
    constants["config.database.purge_interval_seconds"] = DatabaseSettings().purge_interval_seconds
    constants.update(
        {
            "share.key_bytes": share_crypto.SHARE_KEY_BYTES,
            "share.salt_bytes": share_crypto.SALT_BYTES,
            "share.proof_bytes": share_crypto.PROOF_BYTES,
            "hkdf.share_salt_info": share_crypto.SALT_INFO.decode("ascii"),
            "hkdf.share_key_info": share_crypto.KEY_INFO.decode("ascii"),
            "hkdf.share_proof_info": share_crypto.PROOF_INFO.decode("ascii"),
            "share.kdf.memory_kib": share_crypto.SHARE_KDF.memory_kib,
            "share.kdf.iterations": share_crypto.SHARE_KDF.iterations,
            "share.kdf.parallelism": share_crypto.SHARE_KDF.parallelism,
            "share.link_version": share_crypto.LINK_VERSION,
            "share.link_protected_flag": share_crypto.PROTECTED_FLAG,
            "share.proof_hash": f"argon2id t={PROOF_HASHER.time_cost} "
            f"m={PROOF_HASHER.memory_cost} p={PROOF_HASHER.parallelism}",
        }
    )
    return constants


def test_the_constants_appendix_matches_the_code(doc: str) -> None:
    documented = _doc_constants(doc)
    code = {name: str(value) for name, value in _code_constants().items()}
    assert sorted(documented) == sorted(code), "the appendix and the code list different names"
    wrong = {
        name: (documented[name], code[name]) for name in code if documented[name] != code[name]
    }
    assert not wrong, f"doc value != code value: {wrong}"


NIL = uuid.UUID(int=0)


def test_constant_strings_appear_where_they_are_explained(doc: str) -> None:
    for text in (
        f'info "{kdf.AUTH_INFO.decode()}"',
        f'info "{kdf.WRAP_INFO.decode()}"',
        f'"{kdf.AUTH_INFO.decode()}" | 0x01',
        f'"{kdf.WRAP_INFO.decode()}" | 0x01',
        f'aad "{client_api.ACCOUNT_KEY_AAD}"',
        f'aad "{client_api.PRIVATE_KEY_AAD}"',
        f"| `{client_api.ACCOUNT_KEY_AAD}` |",
        f"| `{client_api.PRIVATE_KEY_AAD}` |",
        f'EncString = "{encstring.VERSION}." + base64url(nonce)',
        f"`{tokens.REFRESH_TOKEN_PREFIX}` + base64url",
        f"version {ARGON2_VERSION:#x}",
        f"g = {srp.G}",
        "Argon2id(kdf_salt, t, m, p, version 0x13, 32 bytes)",
        f'info "{totp._SEAL_INFO.decode()}"',
        f'aad `"{totp._seal_aad(NIL).removesuffix(str(NIL))}" + account_id`',
        f"characters from `{recovery_codes.ALPHABET}`",
    ):
        assert text in doc, f"docs/protocol.md no longer says {text!r}"


def test_the_kdf_table_matches_the_bounds(doc: str) -> None:
    for field in ("memory_kib", "iterations", "parallelism"):
        row = _row_by_name(doc, field)
        stated = [int(cell) for cell in row[1:4]]
        expected = [
            getattr(kdf.DEFAULT_KDF, field),
            getattr(kdf.MINIMUM_KDF, field),
            getattr(kdf.MAXIMUM_KDF, field),
        ]
        assert stated == expected, field


def test_the_abuse_table_matches_the_defaults(doc: str) -> None:
    abuse = AbuseSettings()
    for field in AbuseSettings.model_fields:
        assert _row_by_name(doc, field)[1] == str(getattr(abuse, field)), field


# --- endpoints and errors ----------------------------------------------------------------------


def _documented_operations(contract: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in contract["paths"].items()
        if path.startswith(DOCUMENTED_PREFIXES)
        for method, operation in operations.items()
    ]


def test_every_auth_and_account_endpoint_is_documented(doc: str, contract: dict[str, Any]) -> None:
    operations = _documented_operations(contract)
    assert len(operations) >= 13
    missing = [f"{m} {p}" for m, p, _ in operations if f"`{m} {p}`" not in doc]
    assert not missing, f"endpoints missing from docs/protocol.md: {missing}"
    assert "`GET /.well-known/jwks.json`" in doc


def _error_classes() -> dict[str, type[errors.VaultAPIError]]:
    found: dict[str, type[errors.VaultAPIError]] = {}
    pending: list[type[errors.VaultAPIError]] = [errors.VaultAPIError]
    while pending:
        cls = pending.pop()
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found


def test_every_problem_code_of_those_endpoints_is_documented(
    doc: str, contract: dict[str, Any]
) -> None:
    declared: dict[str, set[int]] = {}
    for _, _, operation in _documented_operations(contract):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                for code in re.findall(r"`([a-z_]+)`", response["description"]):
                    declared.setdefault(code, set()).add(int(status))
    table = {_unquote(row[0]): int(row[1]) for row in _table_after(doc, "error-codes")}
    assert sorted(table) == sorted(declared), "the error table and the contract disagree"
    classes = _error_classes()
    for code, status in table.items():
        assert declared[code] == {status}, code
        assert classes[code].status == status, code


def test_the_generic_errors_are_stated_with_their_status(doc: str) -> None:
    classes = _error_classes()
    for code in ("payload_too_large", "internal_error", "database_unavailable"):
        assert f"`{code}` ({classes[code].status}" in doc, code


# --- the examples ------------------------------------------------------------------------------

MODELS: dict[str, type[BaseModel]] = {
    "RegisterRequest": auth_schemas.RegisterRequest,
    "RegisterResponse": auth_schemas.RegisterResponse,
    "PreloginRequest": auth_schemas.PreloginRequest,
    "PreloginResponse": auth_schemas.PreloginResponse,
    "SRPStartRequest": auth_schemas.SRPStartRequest,
    "SRPStartResponse": auth_schemas.SRPStartResponse,
    "SRPVerifyRequest": auth_schemas.SRPVerifyRequest,
    "SRPVerifyResponse": auth_schemas.SRPVerifyResponse,
    "RefreshRequest": auth_schemas.RefreshRequest,
    "TokenPair": auth_schemas.TokenPair,
    "ChangePasswordRequest": auth_schemas.ChangePasswordRequest,
    "Problem": problem_schemas.Problem,
    "MFARequiredResponse": mfa_schemas.MFARequiredResponse,
}


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_examples_validate_against_the_models(doc: str) -> None:
    examples = _examples(doc)
    assert set(MODELS) <= set(examples)
    for name, model in MODELS.items():
        model.model_validate(examples[name])
    problem = examples["Problem"]
    assert problem["type"] == errors.PROBLEM_TYPE_PREFIX + problem["code"]


def test_the_examples_use_the_vectors(doc: str, vector_file: dict[str, Any]) -> None:
    examples = _examples(doc)
    k, s, e = vector_file["kdf"], vector_file["srp"], vector_file["encstring"]
    register = examples["RegisterRequest"]
    assert kdf.normalize_email(register["email"]) == k["identity"]
    assert register["kdf"]["salt"] == k["kdf_salt"] == examples["PreloginResponse"]["kdf"]["salt"]
    assert register["srp"] == {"salt": s["srp_salt"], "verifier": s["verifier"]}
    keys = register["keys"]
    assert keys == examples["SRPVerifyResponse"]["keys"]
    assert keys["protected_account_key"] == e["protected_account_key"]["value"]
    assert examples["SRPStartRequest"]["A"] == s["A"]
    assert examples["SRPStartResponse"]["B"] == s["B"]
    assert examples["SRPStartResponse"]["srp_salt"] == s["srp_salt"]
    assert examples["SRPVerifyRequest"]["M1"] == s["M1"]
    assert examples["SRPVerifyResponse"]["M2"] == s["M2"]

    # The X25519 private key decrypts with the vectors' account key and the documented AAD,
    # and matches the public key.
    _, nonce_text, body_text = keys["protected_private_key"].split(".")
    private_raw = AESGCM(bytes.fromhex(e["account_key"])).decrypt(
        _b64url_decode(nonce_text), _b64url_decode(body_text), b"vaultapi/v1/private-key"
    )
    public_raw = (
        X25519PrivateKey.from_private_bytes(private_raw)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert _b64url_decode(keys["public_key"]) == public_raw
    assert private_raw.hex() in doc


def test_the_jwt_example_decodes_to_the_documented_header_and_claims(doc: str) -> None:
    examples = _examples(doc)
    header_text, claims_text, _ = examples["SRPVerifyResponse"]["access_token"].split(".")
    assert json.loads(_b64url_decode(header_text)) == examples["jwt-header"]
    claims = json.loads(_b64url_decode(claims_text))
    assert claims == examples["jwt-claims"]
    assert claims["exp"] - claims["iat"] == AuthSettings().access_token_ttl_seconds
    assert claims["sid"] == examples["SRPVerifyResponse"]["session_id"]
    assert claims["sub"] == examples["SRPVerifyResponse"]["account_id"]


def test_issued_tokens_have_the_documented_shape() -> None:
    ed25519 = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    keys = tokens.TokenKeys("EdDSA", ed25519=ed25519)
    raw = ed25519.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    thumbprint_input = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'
    kid = base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest())
    assert keys.kid == kid.rstrip(b"=").decode()
    assert tokens.jwks(keys) == {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": keys.kid, "alg": "EdDSA", "use": "sig"}
        ]
    }
    assert tokens.jwks(tokens.TokenKeys("HS256", hmac_secret=b"s" * 32)) == {"keys": []}

    now = datetime(2026, 1, 1, tzinfo=UTC)
    token, _ = tokens.issue_access_token(
        keys,
        account_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        role="user",
        issuer="vaultapi",
        audience="vaultapi",
        ttl=timedelta(seconds=900),
        now=now,
    )
    header_text, claims_text, _ = token.split(".")
    assert json.loads(_b64url_decode(header_text)) == {
        "alg": "EdDSA",
        "kid": kid.rstrip(b"=").decode(),
        "typ": "JWT",
    }
    claims = json.loads(_b64url_decode(claims_text))
    assert sorted(claims) == sorted([*tokens._REQUIRED_CLAIMS, "role"])
    assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])

    refresh = tokens.new_refresh_token()
    assert re.fullmatch(r"vrt_[A-Za-z0-9_-]{43}", refresh)
    assert tokens.refresh_token_hash(refresh) == hashlib.sha256(refresh.encode()).digest()


# --- the formulas, exactly as the doc writes them ----------------------------------------------


class DocSRP:
    """Section 6 of docs/protocol.md, transcribed: N and g come from the doc itself."""

    FORMULAS = (
        "k  = int(H(MIN(N) | PAD(g)))",
        'x  = int(H(s | H(I | ":" | P)))',
        "v  = g^x mod N",
        "A  = g^a mod N",
        "B  = (k*v + g^b) mod N",
        "u  = int(H(PAD(A) | PAD(B)))",
        "S  = ((B - k*(g^x mod N)) mod N)^(a + u*x) mod N",
        "S  = (A * (v^u mod N))^b mod N",
        "K  = H(MIN(S))",
        "M1 = H(MIN(int(H(MIN(N))) xor int(H(MIN(g)))) | MIN(int(H(I))) | s | MIN(A) | MIN(B) | K)",
        "M2 = H(MIN(A) | M1 | K)",
    )
    """The doc's lines that `run` transcribes, one statement each, in the same order."""

    def __init__(self, doc: str) -> None:
        self.N = int("".join(_code_block_after(doc, "srp-N").split()), 16)
        self.g = int(_doc_constants(doc)["srp.generator"])
        self.n_bytes = int(_doc_constants(doc)["srp.n_bytes"])

    def pad(self, n: int) -> bytes:
        return n.to_bytes(self.n_bytes, "big")

    @staticmethod
    def minimal(n: int) -> bytes:
        return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")

    @staticmethod
    def h(*parts: bytes) -> bytes:
        return hashlib.sha256(b"".join(parts)).digest()

    @staticmethod
    def num(digest: bytes) -> int:
        return int.from_bytes(digest, "big")

    def run(self, identity: str, password: str, s: bytes, a: int, b: int) -> dict[str, Any]:
        N, g, pad, mn, h, num = self.N, self.g, self.pad, self.minimal, self.h, self.num  # noqa: N806
        i, p = identity.encode("utf-8"), password.encode("utf-8")
        k = num(h(mn(N), pad(g)))
        x = num(h(s, h(i + b":" + p)))
        v = pow(g, x, N)
        A = pow(g, a, N)  # noqa: N806
        B = (k * v + pow(g, b, N)) % N  # noqa: N806
        u = num(h(pad(A), pad(B)))
        assert u != 0
        S = pow((B - k * pow(g, x, N)) % N, a + u * x, N)  # noqa: N806
        S_server = pow(A * pow(v, u, N), b, N)  # noqa: N806
        assert S_server == S
        K = h(mn(S))  # noqa: N806
        h_n_xor_h_g = mn(num(h(mn(N))) ^ num(h(mn(g))))
        h_i = mn(num(h(i)))
        M1 = h(h_n_xor_h_g, h_i, s, mn(A), mn(B), K)  # noqa: N806
        M2 = h(mn(A), M1, K)  # noqa: N806
        return {
            "k": k,
            "x": x,
            "v": v,
            "A": A,
            "B": B,
            "u": u,
            "S": S,
            "K": K,
            "h_n_xor_h_g": h_n_xor_h_g,
            "h_i": h_i,
            "M1": M1,
            "M2": M2,
        }


def _hkdf_sha256(ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869, no salt (32 zero bytes)."""
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_the_transcribed_formulas_are_the_docs(doc: str) -> None:
    """Each line of the doc's formula block is `<name> = <formula>`, then a comment after
    two or more spaces; the formulas must be exactly the ones `DocSRP.run` implements."""
    formulas = []
    for line in _code_block_after(doc, "srp-formulas").splitlines():
        name, formula = line[:5], line[5:]
        formulas.append(name + re.split(r"\s{2,}", formula, maxsplit=1)[0])
    assert formulas == list(DocSRP.FORMULAS)


def test_the_doc_group_is_the_code_group(doc: str, vector_file: dict[str, Any]) -> None:
    group = DocSRP(doc)
    assert group.N == srp.N == int(vector_file["srp"]["N"], 16)
    assert group.N.bit_length() == 3072
    assert group.g == srp.G == vector_file["srp"]["g"]


def test_the_key_hierarchy_as_documented_reproduces_the_vectors(
    vector_file: dict[str, Any],
) -> None:
    v = vector_file["kdf"]
    # 3.1: NFKC, strip, lower-case.
    assert unicodedata.normalize("NFKC", v["email"]).strip().lower() == v["identity"]
    # 3.2: NFKC, UTF-8, nothing else.
    password = unicodedata.normalize("NFKC", v["password"]).encode("utf-8")
    assert password.hex() == v["password_nfkc_utf8"]
    # 3.3: Argon2id v0x13, 32 bytes.
    params = v["params"]
    master_key = hash_secret_raw(
        password,
        bytes.fromhex(v["kdf_salt"]),
        time_cost=params["iterations"],
        memory_cost=params["memory_kib"],
        parallelism=params["parallelism"],
        hash_len=32,
        type=Type.ID,
        version=0x13,
    )
    assert master_key.hex() == v["master_key"]
    # 3.4: HKDF-SHA256 written out as HMAC.
    prk = hmac.new(bytes(32), master_key, hashlib.sha256).digest()
    auth_key = hmac.new(prk, b"vaultapi/v1/auth" + b"\x01", hashlib.sha256).digest()
    wrap_key = hmac.new(prk, b"vaultapi/v1/wrap" + b"\x01", hashlib.sha256).digest()
    assert auth_key.hex() == v["auth_key"]
    assert wrap_key.hex() == v["wrap_key"]
    # 3.5: P = hex(auth_key).
    assert auth_key.hex() == vector_file["srp"]["P"]
    assert v["identity"] == vector_file["srp"]["I"]


def test_the_srp_formulas_as_documented_reproduce_the_vectors(
    doc: str, vector_file: dict[str, Any]
) -> None:
    v = vector_file["srp"]
    a = int.from_bytes(hashlib.sha256(b"vaultapi/v1/test-vector/a").digest(), "big")
    b = int.from_bytes(hashlib.sha256(b"vaultapi/v1/test-vector/b").digest(), "big")
    assert format(a, "0768x") == v["a"]
    assert format(b, "0768x") == v["b"]
    got = DocSRP(doc).run(v["I"], v["P"], bytes.fromhex(v["srp_salt"]), a, b)

    assert format(got["k"], "064x") == v["k"]
    assert format(got["x"], "064x") == v["x"]
    assert format(got["u"], "064x") == v["u"]
    for ours, theirs in (("v", "verifier"), ("A", "A"), ("B", "B"), ("S", "S")):
        assert format(got[ours], "0768x") == v[theirs], theirs
    for name in ("K", "h_n_xor_h_g", "h_i", "M1", "M2"):
        assert got[name].hex() == v[name], name
    # The constants the doc prints next to the formulas.
    assert got["h_n_xor_h_g"].hex() in doc
    assert format(got["k"], "064x") in doc


def test_the_quirk_case_as_documented_matches_the_code(doc: str) -> None:
    """I, P, s, a and b stated in section 11: A, B and S have a leading zero byte, H(I) too."""
    identity, password, salt = "user73@example.com", "0" * 64, bytes(16)
    for text in (f"`{identity}`", 'int(SHA-256("a85"))', 'int(SHA-256("b17765"))'):
        assert text in doc
    a = int.from_bytes(hashlib.sha256(b"a85").digest(), "big")
    b = int.from_bytes(hashlib.sha256(b"b17765").digest(), "big")
    group = DocSRP(doc)
    got = group.run(identity, password, salt, a, b)
    short = 1 << (8 * (group.n_bytes - 1))
    for name in ("A", "B", "S"):
        assert got[name] < short, name
    h_i = hashlib.sha256(identity.encode()).digest()
    assert h_i[0] == 0
    assert len(got["h_i"]) == 31
    assert h_i.hex() in doc
    assert got["h_i"].hex() in doc

    verifier = srp.compute_verifier(identity, password, salt)
    assert verifier == got["v"]
    start = srp.client_start(private_a=a)
    challenge = srp.server_challenge(verifier, private_b=b)
    assert (start.public_A, challenge.public_B) == (got["A"], got["B"])
    proof = srp.client_proof(identity, password, salt, start, challenge.public_B)
    assert proof.session_key == got["K"]
    assert got["M1"] == proof.M1
    assert proof.expected_M2 == got["M2"]
    assert srp.server_verify(identity, salt, verifier, got["A"], challenge, proof.M1) == got["M2"]


def test_the_encstrings_as_documented_reproduce_the_vectors(vector_file: dict[str, Any]) -> None:
    keys = {
        "wrap_key": bytes.fromhex(vector_file["kdf"]["wrap_key"]),
        "account_key": bytes.fromhex(vector_file["encstring"]["account_key"]),
        "item_key": bytes.fromhex(vector_file["encstring"]["item_key"]),
    }
    for entry in ("protected_account_key", "item_key_wrapped", "item_data"):
        v = vector_file["encstring"][entry]
        nonce = bytes.fromhex(v["nonce"])
        body = AESGCM(keys[v["key"]]).encrypt(
            nonce, bytes.fromhex(v["plaintext"]), v["aad"].encode("utf-8")
        )
        assert "v1." + _b64url(nonce) + "." + _b64url(body) == v["value"], entry
    assert vector_file["encstring"]["protected_account_key"]["aad"] == "vaultapi/v1/account-key"
    wrapped = vector_file["encstring"]["protected_account_key"]["value"]
    assert len(wrapped) == 84  # section 4: a wrapped 32-byte key


def test_the_fakes_are_as_documented() -> None:
    secret, identity = bytes(range(32)), "nobody@example.com"
    fake = fake_account(secret, identity)
    info = identity.encode("utf-8")
    assert fake.kdf == kdf.DEFAULT_KDF
    assert fake.kdf_salt == _hkdf_sha256(secret, b"vaultapi/fake/kdf-salt\x00" + info, 16)
    assert fake.srp_salt == _hkdf_sha256(secret, b"vaultapi/fake/srp-salt\x00" + info, 16)
    wide = int.from_bytes(_hkdf_sha256(secret, b"vaultapi/fake/verifier", 416), "big")
    assert fake.verifier == 2 + wide % (srp.N - 3)
    # One per deployment: another e-mail gets the same verifier, its own salts.
    other = fake_account(secret, "somebody@example.com")
    assert other.verifier == fake.verifier
    assert other.srp_salt != fake.srp_salt
    assert fake.verifier_powers == srp.verifier_powers(fake.verifier)


def test_the_backoff_is_as_documented(doc: str) -> None:
    settings = AbuseSettings()
    guard = AbuseGuard(cast(Db, None), settings, b"s" * 32)
    free = settings.account_free_failures
    base = settings.account_backoff_base_seconds
    cap = settings.account_backoff_max_seconds
    for k in range(40):
        expected = 0.0 if k < free else min(base * 2 ** min(k - free, 32), cap)
        assert guard.backoff(k) == timedelta(seconds=expected), k
    stated = re.findall(r"(\d+)(?:st|nd|rd|th)(?: and later)? \u2192 (\d+) s", doc)
    assert len(stated) >= 5
    for k, seconds in stated:
        assert guard.backoff(int(k)) == timedelta(seconds=int(seconds)), k


def test_ip_buckets_are_as_documented(doc: str) -> None:
    assert "IPv6\naddresses count per /64" in doc
    assert ip_bucket("192.0.2.7") == "192.0.2.7"
    assert ip_bucket("2001:db8:1:2:3:4:5:6") == ip_bucket("2001:db8:1:2:ffff::1")
    assert ip_bucket("2001:db8:1:2::1") != ip_bucket("2001:db8:1:3::1")
    assert ip_bucket("::ffff:192.0.2.7") == "192.0.2.7"


def test_email_rules_are_as_documented(doc: str) -> None:
    assert "no\ncontrol character (Unicode category Cc)" in doc
    assert "free\nof U+0000\u2013U+001F and U+007F" in doc
    assert kdf.normalize_email(" A@B.example ") == "a@b.example"
    for bad in ("a@b\x85.example", "ab.example", "   "):
        with pytest.raises(CryptoError):
            kdf.normalize_email(bad)
    email = _schema_property(auth_schemas.PreloginRequest, "email")
    assert (email["minLength"], email["maxLength"]) == (3, kdf.EMAIL_MAX_LENGTH)
    assert email["pattern"] == r"^[^\x00-\x1f\x7f]*$"
    device = _schema_property(auth_schemas.SRPVerifyRequest, "device_name")
    assert (device["maxLength"], device["pattern"]) == (128, email["pattern"])


# --- section 13: time-limited shares ------------------------------------------------------------

SHARE_FORMULAS = (
    "share_key    = 32 random bytes",
    "salt         = HKDF-SHA256(ikm = share_key, salt absent, "
    'info "vaultapi/v1/share/salt", 16 bytes)',
    "pass_key     = Argon2id(UTF-8(NFKC(passphrase)), salt, t = 2, m = 19456 KiB, p = 1, "
    "version 0x13, 32 bytes)",
    "ikm          = share_key",
    "ikm          = share_key | pass_key",
    'enc_key      = HKDF-SHA256(ikm, salt absent, info "vaultapi/v1/share/key", 32 bytes)',
    'access_proof = HKDF-SHA256(ikm, salt absent, info "vaultapi/v1/share/proof", 32 bytes)',
    "ciphertext   = EncString(enc_key, UTF-8(secret), aad = share id)",
)
"""The doc's formula lines that `test_the_share_formulas_reproduce_the_vectors` transcribes."""

SHARE_MODELS: dict[str, type[BaseModel]] = {
    "ShareCreate": share_schemas.ShareCreate,
    "ShareStatus": share_schemas.ShareStatus,
    "ShareOpenRequest": share_schemas.ShareOpenRequest,
    "OpenedShare": share_schemas.OpenedShare,
}


def test_the_share_formulas_are_the_docs(doc: str) -> None:
    lines = _code_block_after(doc, "share-formulas").splitlines()
    formulas = [re.split(r"\s{2,}\(", line, maxsplit=1)[0].rstrip() for line in lines]
    assert formulas == list(SHARE_FORMULAS)


def test_the_share_formulas_reproduce_the_vectors(vector_file: dict[str, Any]) -> None:
    v = vector_file["share"]
    share_key = bytes.fromhex(v["share_key"])
    secret = v["secret"].encode("utf-8")
    assert secret.hex() == v["secret_utf8"]

    def hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
        prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
        return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]

    p = v["protected"]
    passphrase = unicodedata.normalize("NFKC", p["passphrase"]).encode("utf-8")
    assert passphrase.hex() == p["passphrase_nfkc_utf8"]
    salt = hkdf(share_key, b"vaultapi/v1/share/salt", 16)
    assert salt.hex() == p["salt"]
    assert p["params"] == {
        "algorithm": "argon2id",
        "memory_kib": 19456,
        "iterations": 2,
        "parallelism": 1,
    }
    pass_key = hash_secret_raw(
        passphrase,
        salt,
        time_cost=2,
        memory_cost=19456,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=0x13,
    )
    assert pass_key.hex() == p["pass_key"]
    for case, ikm in (("plain", share_key), ("protected", share_key + pass_key)):
        enc_key = hkdf(ikm, b"vaultapi/v1/share/key", 32)
        assert enc_key.hex() == v[case]["enc_key"], case
        nonce = bytes.fromhex(v[case]["nonce"])
        body = AESGCM(enc_key).encrypt(nonce, secret, v["share_id"].encode("utf-8"))
        assert "v1." + _b64url(nonce) + "." + _b64url(body) == v[case]["ciphertext"], case
    assert hkdf(share_key + pass_key, b"vaultapi/v1/share/proof", 32).hex() == p["access_proof"]


def test_the_share_links_are_as_documented(doc: str, vector_file: dict[str, Any]) -> None:
    v = vector_file["share"]
    block = _code_block_after(doc, "share-link")
    assert "<server>/v1/shares/<share id>#v1.<base64url(share_key)>  " in block
    assert "<server>/v1/shares/<share id>#v1.<base64url(share_key)>.p  " in block
    plain = f"{v['base_url']}/v1/shares/{v['share_id']}#v1.{_b64url(bytes.fromhex(v['share_key']))}"
    assert v["plain"]["link"] == plain
    assert v["protected"]["link"] == plain + ".p"


def test_the_share_examples_validate_and_use_the_vectors(
    doc: str, vector_file: dict[str, Any]
) -> None:
    examples = _examples(doc)
    for name, model in SHARE_MODELS.items():
        model.model_validate(examples[name])
    v = vector_file["share"]
    create = examples["ShareCreate"]
    assert create["id"] == examples["OpenedShare"]["id"] == v["share_id"]
    assert create["ciphertext"] == examples["OpenedShare"]["ciphertext"]
    assert create["ciphertext"] == v["protected"]["ciphertext"]
    assert create["access_proof"] == examples["ShareOpenRequest"]["access_proof"]
    assert create["access_proof"] == v["protected"]["access_proof"]


def test_the_share_settings_table_matches_the_defaults(doc: str) -> None:
    defaults = ShareSettings()
    table = {_unquote(row[0]): row[1] for row in _table_after(doc, "share-settings")}
    assert sorted(table) == sorted(ShareSettings.model_fields)
    for field, value in table.items():
        assert value == str(getattr(defaults, field)), field


def _share_operations(contract: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in contract["paths"].items()
        if path.startswith("/v1/shares")
        for method, operation in operations.items()
    ]


def test_every_share_endpoint_and_code_is_documented(doc: str, contract: dict[str, Any]) -> None:
    operations = _share_operations(contract)
    assert len(operations) == 6
    missing = [f"{m} {p}" for m, p, _ in operations if f"`{m} {p}`" not in doc]
    assert not missing, f"share endpoints missing from docs/protocol.md: {missing}"
    declared: dict[str, set[int]] = {}
    for _, _, operation in operations:
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                for code in re.findall(r"`([a-z_]+)`", response["description"]):
                    declared.setdefault(code, set()).add(int(status))
    table = {_unquote(row[0]): int(row[1]) for row in _table_after(doc, "share-error-codes")}
    assert sorted(table) == sorted(declared), "the share error table and the contract disagree"
    classes = _error_classes()
    for code, status in table.items():
        assert declared[code] == {status}, code
        assert classes[code].status == status, code


def test_the_share_strings_appear_where_they_are_explained(doc: str) -> None:
    for info in (share_crypto.SALT_INFO, share_crypto.KEY_INFO, share_crypto.PROOF_INFO):
        assert f'info "{info.decode()}"' in doc
    assert "UTF-8(NFKC(passphrase))" in doc
