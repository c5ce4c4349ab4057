"""The reference client: does the client-side crypto and talks HTTP only.

`register()` and `login()` implement the v1 suite (docs/protocol.md) over an
`httpx.AsyncClient` pointed at a server (or at the app in-process);
`Share` creates and opens time-limited shares, and `open_share(link)` is the
blocking one-liner for scripts.
"""

from vaultapi.client.api import (
    ClientError,
    Login,
    PendingLogin,
    ProblemError,
    SecondFactor,
    SecondFactorRequired,
    ServerProofError,
    change_email,
    change_password,
    delete_account,
    login,
    prelogin,
    reauthenticate,
    register,
)
from vaultapi.client.shares import (
    CreatedShare,
    Share,
    ShareInfo,
    TamperedShareError,
    open_share,
)

__all__ = [
    "ClientError",
    "CreatedShare",
    "Login",
    "PendingLogin",
    "ProblemError",
    "SecondFactor",
    "SecondFactorRequired",
    "ServerProofError",
    "Share",
    "ShareInfo",
    "TamperedShareError",
    "change_email",
    "change_password",
    "delete_account",
    "login",
    "open_share",
    "prelogin",
    "reauthenticate",
    "register",
]
