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
    max_body_bytes: int = Field(description="Largest request body the server accepts")


class ServerInfo(BaseModel):
    name: Literal["vaultapi"] = "vaultapi"
    version: str = Field(description="Server software version")
    api_version: str = Field(description="Major API version; the path prefix is `/v<api_version>`")
    protocol_suites: list[str] = Field(description="Client crypto suites this server accepts")
    limits: ServerLimits
