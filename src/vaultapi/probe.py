"""`python -m vaultapi.probe`: exit 0 when the server on this machine is ready.

The container's HEALTHCHECK. Standard library only (the slim image has no
curl, and importing the whole application every few seconds would cost a
CPU-second each time): it asks `GET /readyz` on the address and port the
server settings give, over HTTPS when the server serves TLS itself.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request

READY_PATH = "/readyz"
_ANY_ADDRESS = {"", "0.0.0.0", "::"}  # noqa: S104 - recognized, not bound


def probe_url(environ: dict[str, str]) -> str:
    host = environ.get("VAULTAPI_SERVER__HOST", "127.0.0.1")
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    port = environ.get("VAULTAPI_SERVER__PORT", "8000")
    scheme = "https" if environ.get("VAULTAPI_SERVER__SSL_CERTFILE") else "http"
    return f"{scheme}://{host}:{port}{READY_PATH}"


def main() -> int:
    url = probe_url(dict(os.environ))
    context = None
    if url.startswith("https:"):
        # Our own listener over loopback: its certificate names the public
        # host, not 127.0.0.1, and there is nobody in between to impersonate.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as response:  # noqa: S310 - http(s) only, built above
            return 0 if response.status == 200 else 1
    except (OSError, ValueError) as exc:  # refused, timeout, HTTP 503 (HTTPError is an OSError)
        print(f"not ready: {exc}", file=sys.stderr)  # noqa: T201 - a command's diagnostic
        return 1


if __name__ == "__main__":
    sys.exit(main())
