"""Write load through the reference client, and a record of every answer.

`WriteLoad` runs N writers against one server, each in a loop: create an item
(POST, 201), replace its own item (PUT with If-Match, 200) and read it back
(GET, the direct read path). Every HTTP answer is recorded by an httpx event
hook (status, media type, Retry-After, problem code, when it came); every
write the server acknowledged with a 2xx is remembered, so that a test can
check afterwards that each one is in the database.

A writer whose request failed (503, a dropped connection) does not know
whether its change committed; it re-reads its item before the next update,
as a real client would. A failed update may therefore still show up later:
acknowledged writes must all be there, unacknowledged ones may or may not.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from vaultapi import client
from vaultapi.client.vault import Item, Vault
from vaultapi.config import DatabaseSettings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.engine import create_engine

EMAIL = "stress@example.com"
PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Answer:
    at: float
    """`time.monotonic()` when the answer arrived."""
    method: str
    status: int
    media_type: str
    retry_after: str | None
    code: str | None


@dataclass(frozen=True)
class Call:
    """One client operation: when it started, how long it took, how it ended."""

    operation: str
    started: float
    seconds: float
    outcome: str
    """"ok", a problem code, or the name of a transport error."""


@dataclass
class WriteLoad:
    http: httpx.AsyncClient
    writers: int = 4
    pause_seconds: float = 0.02
    answers: list[Answer] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    created: set[uuid.UUID] = field(default_factory=set)
    """Items whose POST got a 201."""
    updated: dict[uuid.UUID, tuple[int, int]] = field(default_factory=dict)
    """Per item, the last acknowledged update: (revision, sequence number)."""
    updates: int = 0
    """How many updates got a 200."""
    login: client.Login | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self.http.event_hooks["response"].append(self._record)
        await client.register(self.http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = self.login = await client.login(self.http, EMAIL, PASSWORD)
        self._tasks = [
            asyncio.create_task(self._writer(Vault(self.http, login))) for _ in range(self.writers)
        ]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _record(self, response: httpx.Response) -> None:
        await response.aread()
        media_type = response.headers.get("content-type", "").split(";")[0]
        code = response.json().get("code") if media_type == PROBLEM else None
        self.answers.append(
            Answer(
                time.monotonic(),
                response.request.method,
                response.status_code,
                media_type,
                response.headers.get("retry-after"),
                code,
            )
        )

    async def _call(self, operation: Any) -> Any:
        """Run one client operation (a coroutine of `Vault`); None when it
        failed (recorded either way)."""
        started = time.monotonic()
        try:
            result = await operation
        except client.ProblemError as error:
            outcome = str(error.body.get("code", error.status))
            result = None
        except httpx.TransportError as error:
            outcome = type(error).__name__
            result = None
        else:
            outcome = "ok"
        name = operation.__qualname__
        self.calls.append(Call(name, started, time.monotonic() - started, outcome))
        return result

    async def _writer(self, vault: Vault) -> None:
        mine: Item | None = None
        sequence = 0
        while not self._stop.is_set():
            created: Item | None = await self._call(vault.add({"created": True}))
            if created is not None:
                self.created.add(created.id)
                mine = mine or created
            if mine is not None:
                sequence += 1
                mine.fields = {"sequence": sequence}
                updated: Item | None = await self._call(vault.update(mine))
                if updated is not None:
                    self.updated[mine.id] = (updated.revision, sequence)
                    self.updates += 1
                    mine = updated
                else:
                    # Unknown whether it committed: learn the truth before the next If-Match.
                    mine = await self._call(vault.get(mine.id)) or mine
            await asyncio.sleep(self.pause_seconds)

    # -- what happened --------------------------------------------------------------

    def outcomes(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        """How the calls that started and ended within [since, until] ended."""
        return Counter(
            call.outcome
            for call in self.calls
            if since <= call.started and call.started + call.seconds <= until
        )

    def server_errors(self) -> list[Answer]:
        """Every 5xx answer: each must be a 503 problem with Retry-After."""
        return [answer for answer in self.answers if answer.status >= 500]

    def longest_call(self) -> float:
        return max(call.seconds for call in self.calls)


async def missing_writes(database_url: str, load: WriteLoad) -> list[str]:
    """Acknowledged writes that the database does not hold (should be none):
    created items that are absent, updates whose revision is older than the
    one the client was told. Read straight from the database."""
    engine = create_engine(database_url, DatabaseSettings(pool_size=1))
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id, revision FROM vault_items"))).all()
    finally:
        await engine.dispose()
    revisions = {uuid.UUID(str(row[0])): int(row[1]) for row in rows}
    missing = [f"created item {item_id} is gone" for item_id in load.created - set(revisions)]
    missing += [
        f"item {item_id} is at revision {revisions.get(item_id)}, update to {revision} lost"
        for item_id, (revision, _) in load.updated.items()
        if revisions.get(item_id, -1) < revision
    ]
    return missing


async def check_sequences(load: WriteLoad) -> list[str]:
    """The content check, through the API: each item decrypts to its last
    acknowledged sequence number or a later one (a later write may have
    committed unacknowledged)."""
    assert load.login is not None
    vault = Vault(load.http, load.login)
    problems = []
    for item_id, (_, sequence) in load.updated.items():
        item = await vault.get(item_id)
        if int(item.fields["sequence"]) < sequence:
            problems.append(f"item {item_id}: sequence {item.fields['sequence']} < {sequence}")
    return problems
