"""Make part of the generated requests reach past the first check.

The contract describes an EncString as a plain string and an id as any
UUID, so purely generated requests almost never carry a well-formed
ciphertext or name an object that exists: the vault and share handlers
would only ever answer 400 `invalid_ciphertext` and 404. For about half of
the cases (chosen by a hash of the generated value, so a run stays
deterministic and shrinking stays stable), this module:

- replaces EncString fields holding a string with a well-formed EncString
  (AES-256-GCM under a fixed key, nonce derived from the generated text);
- replaces a path id holding a UUID with the id of an object the server
  created earlier in the run (items, folders, shares, registered accounts).

The other half is left exactly as generated, so the malformed paths stay
fuzzed too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from vaultapi.crypto import encstring

ENCSTRING_FIELDS = frozenset(
    {"key", "data", "name", "ciphertext", "protected_account_key", "protected_private_key"}
)
"""Request fields the contract documents as EncStrings."""
NESTED_LISTS = ("items", "folders")
"""Lists of objects that carry EncString fields themselves (the vault import)."""

CREATED_IDS = {
    "/v1/vault/items": ("item_id", "id"),
    "/v1/vault/folders": ("folder_id", "id"),
    "/v1/shares": ("share_id", "id"),
    "/v1/auth/register": ("account_id", "account_id"),
}
"""Creating operation -> (path parameter it feeds, field of the 2xx response)."""

_KEY = bytes(32)
_MAX_KNOWN = 20


def _chosen(value: object) -> bool:
    digest = hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).digest()
    return digest[0] % 2 == 0


def _encstring_for(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    nonce = hashlib.sha256(raw).digest()[: encstring.NONCE_BYTES]
    return encstring.encrypt(_KEY, raw[:64], "fuzz", nonce=nonce)


def _with_encstrings(body: dict[str, Any]) -> dict[str, Any]:
    result = dict(body)
    for field, value in body.items():
        if field in ENCSTRING_FIELDS and isinstance(value, str):
            result[field] = _encstring_for(value)
        elif field in NESTED_LISTS and isinstance(value, list):
            result[field] = [_with_encstrings(v) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict):
            result[field] = _with_encstrings(value)
    return result


class KnownIds:
    """Ids of objects the server created during the run, by path parameter."""

    def __init__(self) -> None:
        self._ids: dict[str, list[str]] = {}

    def saw(self, method: str, path: str, status: int, content: bytes) -> None:
        target = CREATED_IDS.get(path)
        if method.upper() != "POST" or target is None or not 200 <= status < 300:
            return
        parameter, field = target
        created = json.loads(content).get(field)
        if isinstance(created, str):
            known = self._ids.setdefault(parameter, [])
            known.append(created)
            del known[:-_MAX_KNOWN]

    def choose(self, parameter: str, generated: str) -> str | None:
        known = self._ids.get(parameter)
        if not known:
            return None
        index = hashlib.sha256(generated.encode("utf-8", "surrogatepass")).digest()[1]
        return known[index % len(known)]


def make_realistic(
    body: Any, path_parameters: Mapping[str, Any] | None, known: KnownIds
) -> tuple[Any, dict[str, Any] | None]:
    """The body and path parameters to send instead of the generated ones."""
    if isinstance(body, dict) and _chosen(body):
        body = _with_encstrings(body)
    if path_parameters is None:
        return body, None
    parameters = dict(path_parameters)
    for name, value in path_parameters.items():
        if isinstance(value, str) and _is_uuid(value) and _chosen(value):
            parameters[name] = known.choose(name, value) or value
    return body, parameters


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
