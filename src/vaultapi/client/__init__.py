"""The reference client: does the client-side crypto and talks HTTP only.

`register()` and `login()` implement the v1 suite (docs/protocol.md) over an
`httpx.AsyncClient` pointed at a server (or at the app in-process).
"""

from vaultapi.client.api import (
    ClientError,
    Login,
    PendingLogin,
    ProblemError,
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

__all__ = [
    "ClientError",
    "Login",
    "PendingLogin",
    "ProblemError",
    "SecondFactorRequired",
    "ServerProofError",
    "change_email",
    "change_password",
    "delete_account",
    "login",
    "prelogin",
    "reauthenticate",
    "register",
]
