"""Many clients racing for one object, through two real server processes.

- 200 updates of one item, all sent at once with the same If-Match: exactly
  one wins, the other 199 get 412 `stale_revision`.
- Writers that read, change and retry on 412 (each adds its own mark to the
  item's content): each revision is given to exactly one of them, and the
  final content holds every mark, so no acknowledged update was overwritten.
- 100 simultaneous opens of a share that allows 5 views: exactly 5 open it.

The smaller in-process versions are in tests/api (test_vault.py,
test_share_races.py); these go through real processes and the reference client.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import httpx

from tests.stress.conftest import fresh_connections, small_pool
from tests.support.cluster import Cluster, cluster
from tests.support.reports import REPORT_LINES
from vaultapi import client
from vaultapi.client.shares import Share
from vaultapi.client.vault import Item, Vault
from vaultapi.crypto.kdf import MINIMUM_KDF

EMAIL = "racer@example.com"
PASSWORD = "correct horse battery staple"
UPDATES = 200
RETRYING_WRITERS = 20
OPENS = 100
VIEWS = 5

# A queue of 200 requests on 2 x 5 connections must not be cut short by the
# pool timeout on a loaded machine: here only the revision check may refuse.
ENV = small_pool(size=5, pool_timeout=60, VAULTAPI_SHARES__IP_OPENS_PER_WINDOW="1000")


@contextmanager
def two_processes(workdir: Path, database: str) -> Iterator[Cluster]:
    with cluster(workdir, database, size=2, env=ENV) as deployment:
        yield deployment


async def open_clients(deployment: Cluster, stack: AsyncExitStack) -> list[httpx.AsyncClient]:
    return [
        await stack.enter_async_context(fresh_connections(server.base_url))
        for server in deployment.servers
    ]


async def attempt(vault: Vault, item: Item) -> tuple[int, str | None, Item | None]:
    try:
        return 200, None, await vault.update(item)
    except client.ProblemError as error:
        return error.status, error.body.get("code"), None


async def test_concurrent_updates_of_one_item_one_success_per_revision(
    workdir: Path, database: str
) -> None:
    with two_processes(workdir, database) as deployment:
        async with AsyncExitStack() as stack:
            https = await open_clients(deployment, stack)
            await client.register(https[0], EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            login = await client.login(https[1], EMAIL, PASSWORD)
            vaults = [Vault(http, login) for http in https]
            original = await vaults[0].add({"marks": []})

            # 200 at once, all from the same revision
            contenders = []
            for n in range(UPDATES):
                item = copy.deepcopy(original)
                item.fields = {"marks": [n]}
                contenders.append(attempt(vaults[n % 2], item))
            results = await asyncio.gather(*contenders)
            statuses = Counter((status, code) for status, code, _ in results)
            winners = [n for n, (status, _, _) in enumerate(results) if status == 200]
            after_burst = await vaults[1].get(original.id)

            # writers that read, change and retry until their change is in
            revisions: list[int] = []
            tries = Counter[int]()

            async def retrying_writer(mark: int) -> None:
                vault = vaults[mark % 2]
                while True:
                    tries[mark] += 1
                    current = await vault.get(original.id)
                    current.fields = {"marks": [*current.fields["marks"], mark]}
                    status, code, updated = await attempt(vault, current)
                    if updated is not None:
                        revisions.append(updated.revision)
                        return
                    assert (status, code) == (412, "stale_revision"), (status, code)

            marks = range(UPDATES, UPDATES + RETRYING_WRITERS)
            await asyncio.gather(*(retrying_writer(mark) for mark in marks))
            final = await vaults[0].get(original.id)

    REPORT_LINES.append(
        f"stress/updates: {UPDATES} at once → {dict(statuses)}; {RETRYING_WRITERS} retrying "
        f"writers needed {sum(tries.values())} attempts"
    )
    assert statuses == {(200, None): 1, (412, "stale_revision"): UPDATES - 1}
    assert after_burst.revision == original.revision + 1
    assert after_burst.fields == {"marks": winners}
    # each revision went to exactly one writer, and every writer's mark survived
    first = after_burst.revision + 1
    assert sorted(revisions) == list(range(first, first + RETRYING_WRITERS))
    assert final.revision == after_burst.revision + RETRYING_WRITERS
    assert sorted(final.fields["marks"]) == [*winners, *marks]


async def test_concurrent_opens_of_a_five_view_share_exactly_five_succeed(
    workdir: Path, database: str
) -> None:
    with two_processes(workdir, database) as deployment:
        async with AsyncExitStack() as stack:
            https = await open_clients(deployment, stack)
            await client.register(https[0], EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            login = await client.login(https[0], EMAIL, PASSWORD)
            created = await Share.create(https[0], login, "the secret", views=VIEWS)

            async def open_once(n: int) -> tuple[int, str | None]:
                try:
                    secret = await Share.open(created.link, http=https[n % 2])
                except client.ProblemError as error:
                    return error.status, error.body.get("code")
                assert secret == "the secret"
                return 200, None

            results = Counter(await asyncio.gather(*(open_once(n) for n in range(OPENS))))
            info = await Share.list(https[1], login)

    REPORT_LINES.append(f"stress/share opens: {OPENS} at once → {dict(results)}")
    assert results == {(200, None): VIEWS, (410, "share_gone"): OPENS - VIEWS}
    assert len(info) == 1
    assert info[0].views_used == VIEWS
