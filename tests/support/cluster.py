"""Several real `vaultapi serve` processes on one PostgreSQL database.

`fresh_database()` makes an empty database and migrates it the way the
container does (`vaultapi db upgrade` as its own process); `cluster()` starts
N production-mode servers on it, each in its own directory (so nothing can be
shared through files) and with the same secrets (as N machines of one
deployment would have). `Cluster.http(i)` talks to process i;
`Cluster.round_robin()` sends each request to the next process in turn and
records which process answered what.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import databases
from tests.support.servers import RunningServer, clean_environment, running_server, vaultapi_command
from vaultapi.server_keys import generate_ed25519_pem


def migrate(database_url: str, cwd: Path) -> None:
    """`vaultapi db upgrade`, the container's one-shot migrate command."""
    result = subprocess.run(
        vaultapi_command("db", "upgrade"),
        cwd=cwd,
        env=clean_environment({"VAULTAPI_DATABASE_URL": database_url}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@asynccontextmanager
async def fresh_database(workdir: Path) -> AsyncIterator[str]:
    """A new PostgreSQL database at the latest migration; dropped afterwards."""
    admin = databases.admin_engine()
    name = databases.new_database_name("vaultapi_e2e")
    await databases.create_database(admin, name)
    url = databases.with_database(databases.admin_url(), name)
    try:
        migrate(url, workdir)
        yield url
    finally:
        await databases.drop_database(admin, name)
        await admin.dispose()


def production_environment(database_url: str) -> dict[str, str]:
    """What every process of one deployment shares: database and secrets."""
    return {
        "VAULTAPI_ENV": "production",
        "VAULTAPI_DATABASE_URL": database_url,
        "VAULTAPI_AUTH__SERVER_SECRET": secrets.token_urlsafe(48),
        "VAULTAPI_AUTH__JWT_PRIVATE_KEY": generate_ed25519_pem(),
        "VAULTAPI_LOG__FORMAT": "json",
    }


@dataclass
class RoundRobin(httpx.AsyncBaseTransport):
    """Each request to the next process in turn; `calls` says who got what."""

    base_urls: list[str]
    calls: list[tuple[int, str, str]] = field(default_factory=list)
    _next: int = 0
    _transports: list[httpx.AsyncHTTPTransport] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._transports = [httpx.AsyncHTTPTransport() for _ in self.base_urls]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._next
        self._next = (index + 1) % len(self.base_urls)
        target = httpx.URL(self.base_urls[index])
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["host"] = f"{target.host}:{target.port}"
        self.calls.append((index, request.method, request.url.path))
        return await self._transports[index].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()


@dataclass
class Cluster:
    servers: list[RunningServer]
    database_url: str
    environment: dict[str, str]

    def http(self, index: int) -> httpx.AsyncClient:
        """A client for process `index` (use as `async with`)."""
        return httpx.AsyncClient(base_url=self.servers[index].base_url, timeout=30)

    def round_robin(self) -> tuple[httpx.AsyncClient, RoundRobin]:
        transport = RoundRobin([server.base_url for server in self.servers])
        return httpx.AsyncClient(transport=transport, base_url="http://cluster", timeout=30), (
            transport
        )

    def logs(self) -> list[str]:
        return [server.log() for server in self.servers]


@contextmanager
def cluster(
    workdir: Path, database_url: str, *, size: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[Cluster]:
    """`size` servers of one production deployment on `database_url`, stopped at the end."""
    environment = {**production_environment(database_url), **(env or {})}
    with ExitStack() as stack:
        servers = []
        for index in range(size):
            directory = workdir / f"process-{index}"
            directory.mkdir()
            servers.append(stack.enter_context(running_server(directory, env=environment)))
        yield Cluster(servers, database_url, environment)
