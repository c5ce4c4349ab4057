from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from vaultapi.schemas.examples import example_config

_LIMITS = {
    "max_body_bytes": 1_048_576,
    "max_item_bytes": 65_536,
    "max_items": 50_000,
    "import_max_items": 1_000,
    "max_share_secret_chars": 16_384,
    "max_share_ttl_minutes": 10_080,
    "max_share_views": 100,
}


class Health(BaseModel):
    model_config = example_config({"status": "ok"})

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    model_config = example_config(
        {"status": "ready", "database": "ok", "schema_revision": "0cc4cf2c9506"}
    )

    status: Literal["ready"] = "ready"
    database: Literal["ok"] = "ok"
    schema_revision: str = Field(description="The database's Alembic revision (at head)")


class ServerLimits(BaseModel):
    """What a client should check before sending, instead of learning it from a 4xx."""

    model_config = example_config(_LIMITS)

    max_body_bytes: int = Field(description="Largest request body the server accepts")
    max_item_bytes: int = Field(description="Largest item `data` EncString, in characters")
    max_items: int = Field(description="Items per account, trash included")
    import_max_items: int = Field(description="Items (and folders) per import request")
    max_share_secret_chars: int = Field(description="Largest share ciphertext, in characters")
    max_share_ttl_minutes: int = Field(description="Longest share lifetime")
    max_share_views: int = Field(description="Most views one share may allow")


class ServerInfo(BaseModel):
    model_config = example_config(
        {
            "name": "vaultapi",
            "version": "0.1.0",
            "api_version": "1",
            "protocol_suites": ["v1"],
            "limits": _LIMITS,
        }
    )

    name: Literal["vaultapi"] = "vaultapi"
    version: str = Field(description="Server software version")
    api_version: str = Field(description="Major API version; the path prefix is `/v<api_version>`")
    protocol_suites: list[str] = Field(description="Client crypto suites this server accepts")
    limits: ServerLimits
