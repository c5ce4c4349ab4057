"""All SQL. Account-scoped queries take the owner's id as an argument, so a
forgotten check in a router cannot reach another account's rows."""

from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def sa_table(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class (for upserts and raw columns)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def upsert_insert(
    session: AsyncSession, model: type[SQLModel]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with `on_conflict_do_*`, for the session's database (both
    PostgreSQL and SQLite have the same ON CONFLICT and RETURNING)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
