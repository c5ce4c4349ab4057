from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database: Literal["ok"] = "ok"
    schema_revision: str = Field(description="The database's Alembic revision (at head)")


class ServerLimits(BaseModel):
    """What a client should check before sending, instead of learning it from a 4xx."""

    max_body_bytes: int = Field(description="Largest request body the server accepts")
    max_item_bytes: int = Field(description="Largest item `data` EncString, in characters")
    max_items: int = Field(description="Items per account, trash included")
    import_max_items: int = Field(description="Items (and folders) per import request")
    max_share_secret_chars: int = Field(description="Largest share ciphertext, in characters")
    max_share_ttl_minutes: int = Field(description="Longest share lifetime")
    max_share_views: int = Field(description="Most views one share may allow")


class ServerInfo(BaseModel):
    name: Literal["vaultapi"] = "vaultapi"
    version: str = Field(description="Server software version")
    api_version: str = Field(description="Major API version; the path prefix is `/v<api_version>`")
    protocol_suites: list[str] = Field(description="Client crypto suites this server accepts")
    limits: ServerLimits
