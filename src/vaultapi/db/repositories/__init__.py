"""All SQL. Account-scoped queries take the owner's id as an argument, so a
forgotten check in a router cannot reach another account's rows."""

from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table
from sqlmodel import SQLModel


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def sa_table(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class (for upserts and raw columns)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]
