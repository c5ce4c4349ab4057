"""Real `vaultapi serve` processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any VAULTAPI_ setting, plus `extra`.
    No SIGTERM drain unless a test asks for one: stopping a server stays quick."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTAPI_")}
    env["VAULTAPI_SERVER__SHUTDOWN_DRAIN_SECONDS"] = "0"
    env.update(extra or {})
    return env


def vaultapi_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vaultapi", *args]


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    scheme: str = "http",
    verify: ssl.SSLContext | bool = True,
    timeout: float = 30.0,
    port: int | None = None,
    wrapper: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """`wrapper`: a command the server runs under (`valgrind …`)."""
    port = port or free_port()
    log_path = workdir / f"server-{port}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [*wrapper, *vaultapi_command("serve", "--port", str(port), *args)],
            cwd=workdir,
            env=clean_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = RunningServer(f"{scheme}://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_ready(server, timeout, verify)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: RunningServer, timeout: float, verify: ssl.SSLContext | bool) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            response = httpx.get(f"{server.base_url}/readyz", verify=verify, timeout=2)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout}s:\n{server.log()}")
