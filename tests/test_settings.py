"""Settings from the environment, database URLs, production refusal, dev secrets."""

from __future__ import annotations

import json
import logging
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from vaultapi.config import Environment, Settings
from vaultapi.db.engine import normalize_database_url
from vaultapi.errors import ConfigurationError
from vaultapi.server_keys import generate_ed25519_pem, load_server_keys

STRONG = "k7Qd2-vR9xLmW4pZ0aYcTnE8hJ6uB3sF1gKoXiV5"
STRONG_RANDOM = "Zp4Lq9Xw2Rt7Vn0Ks5Mb8Hc3Jd6Gf1Ya-Ue_Io"


def production(**overrides: object) -> Settings:
    return Settings(env=Environment.PRODUCTION, **overrides)  # type: ignore[arg-type]


def test_defaults_are_the_embedded_development_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.env is Environment.DEVELOPMENT
    assert settings.auto_migrate is True
    assert settings.effective_database_url() == f"sqlite+aiosqlite:///{tmp_path}/vaultapi.db"
    assert settings.http.max_body_bytes == 1024 * 1024
    assert settings.http.cors_origins == []
    assert settings.auth.jwt_algorithm == "EdDSA"


def test_environment_variables_with_prefix_and_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULTAPI_ENV", "production")
    monkeypatch.setenv("VAULTAPI_HTTP__MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("VAULTAPI_HTTP__CORS_ORIGINS", '["https://vault.example.com"]')
    monkeypatch.setenv("VAULTAPI_DATABASE__POOL_SIZE", "3")
    monkeypatch.setenv("VAULTAPI_AUTH__SERVER_SECRET", STRONG)
    monkeypatch.setenv("VAULTAPI_SHARES__MAX_FAILED_PROOFS", "5")
    settings = Settings()
    assert settings.shares.max_failed_proofs == 5
    assert settings.is_production
    assert settings.auto_migrate is False
    assert settings.http.max_body_bytes == 4096
    assert settings.http.cors_origins == ["https://vault.example.com"]
    assert settings.database.pool_size == 3
    assert settings.auth.server_secret is not None
    assert settings.auth.server_secret.get_secret_value() == STRONG


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VAULTAPI_HTTP__MAX_BODY_BYTES", "10"),
        ("VAULTAPI_HTTP__CORS_ORIGINS", '["*"]'),
        ("VAULTAPI_HTTP__CORS_ORIGINS", '["vault.example.com"]'),
        ("VAULTAPI_ENV", "staging"),
        ("VAULTAPI_AUTH__JWT_ALGORITHM", "none"),
        ("VAULTAPI_DATABASE__POOL_SIZE", "0"),
        ("VAULTAPI_SHARES__MAX_FAILED_PROOFS", "0"),
        ("VAULTAPI_SHARES__MAX_TTL_MINUTES", "0"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_secrets_never_appear_in_a_repr(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://vault:db-password-123@db/vault",  # type: ignore[arg-type]
        auth={"server_secret": STRONG, "jwt_secret": STRONG_RANDOM},  # type: ignore[arg-type]
    )
    text = repr(settings) + str(settings)
    assert "db-password-123" not in text
    assert STRONG not in text
    assert STRONG_RANDOM not in text
    keys = load_server_keys(settings)
    assert STRONG not in repr(keys)
    assert "ServerKeys" in repr(keys)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:////var/lib/vaultapi/v.db", "sqlite+aiosqlite:////var/lib/vaultapi/v.db"),
    ],
)
def test_database_urls_are_mapped_to_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@h/d", "postgresql+psycopg2://u@h/d", "sqlite+pysqlite:///x.db", "nonsense"]
)
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_database_url(url)


def test_production_lists_everything_missing_at_once() -> None:
    problems = production().production_problems()
    joined = "\n".join(problems)
    assert len(problems) == 3
    assert "VAULTAPI_DATABASE_URL" in joined
    assert "VAULTAPI_AUTH__SERVER_SECRET" in joined
    assert "VAULTAPI_AUTH__JWT_PRIVATE_KEY" in joined


def test_production_refuses_weak_or_malformed_secrets() -> None:
    settings = production(
        database_url="postgresql://db/vault",
        auth={"server_secret": "short", "jwt_private_key": "not a key"},
    )
    joined = "\n".join(settings.production_problems())
    assert "SERVER_SECRET is shorter than 32 bytes" in joined
    assert "JWT_PRIVATE_KEY is not an unencrypted Ed25519 PEM key" in joined


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"server_secret": "a" * 40}, "SERVER_SECRET is not random"),
        ({"server_secret": "ab" * 20}, "SERVER_SECRET is not random"),
        (
            {"server_secret": STRONG_RANDOM, "jwt_algorithm": "HS256", "jwt_secret": STRONG_RANDOM},
            "JWT_SECRET must differ from VAULTAPI_AUTH__SERVER_SECRET",
        ),
    ],
)
def test_production_refuses_placeholder_secrets(auth: dict[str, str], expected: str) -> None:
    settings = production(database_url="postgresql://db/vault", auth=auth)
    assert any(expected in problem for problem in settings.production_problems())


def test_production_with_hs256_needs_the_shared_secret() -> None:
    settings = production(
        database_url="postgresql://db/vault",
        auth={"server_secret": STRONG, "jwt_algorithm": "HS256"},
    )
    assert settings.production_problems() == [
        "VAULTAPI_AUTH__JWT_SECRET is not set (HS256 needs at least 32 random bytes)"
    ]


def test_complete_production_settings_have_no_problems_and_write_no_files(tmp_path: Path) -> None:
    settings = production(
        database_url="postgresql://db/vault",
        data_dir=tmp_path,
        auth={"server_secret": STRONG, "jwt_private_key": generate_ed25519_pem()},
    )
    assert settings.production_problems() == []
    keys = load_server_keys(settings)
    assert keys.development_file is None
    assert keys.server_secret == STRONG.encode()
    assert list(tmp_path.iterdir()) == []


def test_a_pem_with_escaped_newlines_is_accepted() -> None:
    """Env files cannot hold newlines: `vaultapi keygen` prints the PEM with \\n."""
    escaped = generate_ed25519_pem().strip().replace("\n", "\\n")
    settings = production(
        database_url="postgresql://db/vault",
        auth={"server_secret": STRONG, "jwt_private_key": escaped},
    )
    assert settings.production_problems() == []


def test_development_generates_private_secrets_once_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="vaultapi.server_keys"):
        first = load_server_keys(settings)
    assert any("DEVELOPMENT MODE" in r.getMessage() for r in caplog.records)
    path = tmp_path / "data" / "secrets.json"
    assert first.development_file == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.server_secret) >= 32

    second = load_server_keys(settings)
    assert second.server_secret == first.server_secret
    assert second.jwt_secret == first.jwt_secret
    assert first.jwt_private_key is not None
    assert second.jwt_private_key is not None
    assert second.jwt_private_key.public_key() == first.jwt_private_key.public_key()


def test_development_uses_explicit_secrets_over_generated_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth={"server_secret": STRONG})  # type: ignore[arg-type]
    keys = load_server_keys(settings)
    assert keys.server_secret == STRONG.encode()
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored["server_secret"].encode() != keys.server_secret


def test_workers_starting_together_agree_on_one_set_of_secrets(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "race")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: load_server_keys(settings).server_secret, range(16)))
    assert len(set(results)) == 1
    assert [p.name for p in (tmp_path / "race").iterdir()] == ["secrets.json"]


def test_a_corrupt_development_secrets_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("{ not json")
    (tmp_path / "secrets.json").chmod(0o600)
    with pytest.raises(ConfigurationError, match="delete it to regenerate"):
        load_server_keys(Settings(data_dir=tmp_path))


def test_a_too_open_secrets_file_is_tightened(tmp_path: Path) -> None:
    load_server_keys(Settings(data_dir=tmp_path))
    path = tmp_path / "secrets.json"
    path.chmod(0o644)
    load_server_keys(Settings(data_dir=tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_embedded_storage_is_private_and_tightened(tmp_path: Path) -> None:
    from vaultapi.storage import prepare_database_storage

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "vaultapi.db").touch(mode=0o644)
    (data / "vaultapi.db").chmod(0o644)
    prepare_database_storage(Settings(data_dir=data))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "vaultapi.db").stat().st_mode) == 0o600

    fresh = tmp_path / "fresh"
    prepare_database_storage(Settings(data_dir=fresh))
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "vaultapi.db").stat().st_mode) == 0o600


def test_console_log_lines_cannot_be_forged() -> None:
    from vaultapi.logs import ConsoleFormatter

    record = logging.LogRecord(
        "vaultapi.access", logging.INFO, __file__, 1, "GET %s 404", ("/x\n2026 FAKE",), None
    )
    record.request_id = "r1"
    line = ConsoleFormatter().format(record)
    assert "\n" not in line
    assert line.endswith("GET /x\\n2026 FAKE 404")
