from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling, as far as the network can tell."""

    ip: str
    user_agent: str
