"""vaultapi: a zero-knowledge password-manager server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vaultapi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

API_VERSION = "1"
"""Major version of the HTTP API: the `/v1` prefix. Bumped only for breaking changes."""
