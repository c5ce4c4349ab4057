"""The committed contract, fuzzed against a real server.

Schemathesis reads `openapi/openapi.json` (the file clients are given, not
what the app would generate now) and, for every operation, sends requests
built from it, valid and invalid, to a real `vaultapi serve` process on a
fresh PostgreSQL database, authenticated as a real (admin) account
(`tests/fuzz/accounts.py`). Half of the cases get well-formed ciphertexts
and the ids of objects that exist, to reach past the first check
(`tests/fuzz/realistic.py`). Every response must be:

- not a 5xx (`not_a_server_error`);
- a status the operation documents (`status_code_conformance`);
- of the documented media type (`content_type_conformance`), with the
  documented headers (`response_headers_conformance`);
- a body that validates against the documented schema
  (`response_schema_conformance`);
- where the operation needs a token and answered 2xx: refused without one,
  and with a wrong one (`ignored_auth`, once per operation).

The server's abuse limits are raised so that the fuzzer reaches the
handlers instead of a wall of 429s (a 429 must still be documented where it
can occur).

CI runs a small, derandomized budget (`CI_EXAMPLES` generated cases per
operation, plus schemathesis' boundary cases): the same requests every run,
so a failure reproduces and nothing is flaky. The long, random campaign is
`make fuzz` (200 cases per operation and a fresh seed, printed at the end of
the run under "measurements"); `FUZZ_EXAMPLES=N` sets the budget and
`FUZZ_SEED=<seed>` replays a campaign. Each failure also prints a curl
command that reproduces it, and the server's traceback for a 5xx.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case

from tests.fuzz.accounts import FuzzAccounts
from tests.fuzz.realistic import KnownIds, make_realistic
from tests.support.cluster import fresh_database, production_environment
from tests.support.reports import REPORT_LINES
from tests.support.servers import RunningServer, running_server

pytestmark = pytest.mark.slow

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
CI_EXAMPLES = 10
"""Generated cases per operation in CI (on top of the boundary cases)."""

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)

SERVER_ENVIRONMENT = {
    # A fuzz run outlasts the default 15 minutes less often than it outlasts
    # nothing at all; the accounts helper logs in again near expiry anyway.
    "VAULTAPI_AUTH__ACCESS_TOKEN_TTL_SECONDS": "86400",
    "VAULTAPI_AUTH__MAX_SESSIONS_PER_ACCOUNT": "10000",
    # Password and e-mail changes want a recent proof: keep the throwaway
    # account's login recent for as long as it lives.
    "VAULTAPI_AUTH__RECENT_AUTH_SECONDS": "3600",
    "VAULTAPI_ABUSE__ACCOUNT_FREE_FAILURES": "100",
    "VAULTAPI_ABUSE__IP_FAILURES_PER_WINDOW": "1000000",
    "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": "1000000",
    "VAULTAPI_ABUSE__IP_REGISTRATIONS_PER_WINDOW": "1000000",
    "VAULTAPI_SHARES__IP_OPENS_PER_WINDOW": "1000000",
}


@dataclass(frozen=True)
class Campaign:
    """How much to generate, and from which seed (None: derandomized)."""

    examples: int
    seed: int | None

    @classmethod
    def from_environment(cls) -> Campaign:
        """CI: `CI_EXAMPLES`, derandomized. `FUZZ_EXAMPLES=N` sets the budget;
        `FUZZ_SEED=random` draws a seed (reported), `FUZZ_SEED=<int>` replays one."""
        examples = int(os.environ.get("FUZZ_EXAMPLES", CI_EXAMPLES))
        seed_text = os.environ.get("FUZZ_SEED", "")
        if seed_text == "random":
            return cls(examples, secrets.randbits(64))
        return cls(examples, int(seed_text) if seed_text else None)

    def describe(self) -> str:
        if self.seed is None:
            return f"{self.examples} generated cases per operation, derandomized"
        return (
            f"{self.examples} generated cases per operation, seed {self.seed} "
            f"(replay: FUZZ_EXAMPLES={self.examples} FUZZ_SEED={self.seed} make fuzz)"
        )

    def config(self) -> schemathesis.Config:
        generation: dict[str, Any] = {
            "mode": "all",  # valid and invalid requests
            "max-examples": self.examples,
            "database": "none",
            # Authentication is the accounts helper's: real tokens, never generated ones.
            "with-security-parameters": False,
        }
        document: dict[str, Any] = {
            # Timing must not decide a run on a loaded machine; a hung server must.
            "suppress-health-check": ["too_slow"],
            "request-timeout": 60,
            "generation": generation,
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"stateful": {"enabled": False}},
        }
        if self.seed is None:
            generation["deterministic"] = True
        else:
            document["seed"] = self.seed
        return schemathesis.Config.from_dict(document)


CAMPAIGN = Campaign.from_environment()


schema = schemathesis.openapi.from_path(CONTRACT, config=CAMPAIGN.config())


@dataclass
class FuzzTarget:
    server: RunningServer
    accounts: FuzzAccounts
    known: KnownIds = field(default_factory=KnownIds)
    requests: int = 0


@pytest.fixture(scope="module")
def fuzz_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
async def fuzz_database(fuzz_workdir: Path) -> AsyncIterator[str]:
    async with fresh_database(fuzz_workdir) as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_target(fuzz_workdir: Path, fuzz_database: str) -> Iterator[FuzzTarget]:
    environment = {**production_environment(fuzz_database), **SERVER_ENVIRONMENT}
    started = time.monotonic()
    with running_server(fuzz_workdir, env=environment) as server:
        accounts = FuzzAccounts(server.base_url, fuzz_database, fuzz_workdir)
        accounts.start()
        target = FuzzTarget(server, accounts)
        yield target
    REPORT_LINES.append(
        f"fuzz: {CAMPAIGN.describe()}; {target.requests} requests, "
        f"{accounts.logins} logins, {time.monotonic() - started:.0f} s"
    )


@schema.parametrize()
def test_every_response_follows_the_contract(case: Case[Any], fuzz_target: FuzzTarget) -> None:
    accounts = fuzz_target.accounts
    headers = accounts.headers_for(case.method, case.path)
    body, path_parameters = make_realistic(case.body, case.path_parameters, fuzz_target.known)
    if body is not case.body:
        case.body = body
    if path_parameters is not None:
        case.path_parameters = path_parameters
    response = case.call(base_url=fuzz_target.server.base_url, headers=headers)
    fuzz_target.requests += 1
    fuzz_target.known.saw(case.method, case.path, response.status_code, response.content)
    accounts.saw_response(headers, response.status_code, response.content)
    if response.status_code >= 500:
        _show_server_errors(fuzz_target.server, response.headers.get("x-request-id", [""])[0])
    if (case.method, case.path) == ("POST", "/v1/admin/ip-rules") and response.status_code == 201:
        _remove_ip_rule(fuzz_target.server, headers, response.content)
    case.validate_response(response, headers=headers)


def _remove_ip_rule(server: RunningServer, headers: dict[str, str], created: bytes) -> None:
    """A generated rule could block the fuzzer's own address (`::/0`): take it away again."""
    rule_id = json.loads(created)["id"]
    answer = httpx.delete(f"{server.base_url}/v1/admin/ip-rules/{rule_id}", headers=headers)
    assert answer.status_code == 204, answer.text


def _show_server_errors(server: RunningServer, request_id: str) -> None:
    """The server's traceback for this request, shown with the test's failure (stderr)."""
    for line in server.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("request_id") == request_id:
            sys.stderr.write(f"{record.get('message')}\n{record.get('exception', '')}\n")
