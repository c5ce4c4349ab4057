"""`vaultapi serve` as a real process: the Quick start path, workers, TLS."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.servers import running_server

pytestmark = pytest.mark.slow


def test_embedded_default_starts_migrates_and_serves(workdir: Path) -> None:
    """The Quick start: no configuration at all."""
    with running_server(workdir) as server:
        ready = httpx.get(f"{server.base_url}/readyz")
        docs = httpx.get(f"{server.base_url}/docs")
        asset = httpx.get(f"{server.base_url}/docs/assets/swagger-ui-bundle.js")
        schema = httpx.get(f"{server.base_url}/openapi.json")
        data = workdir / ".vaultapi"
        files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {"vaultapi.db", "vaultapi.db-wal", "secrets.json"} <= set(files)
    assert all(mode == 0o600 for mode in files.values()), files
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert docs.status_code == 200
    assert "swagger-ui-bundle.js" in docs.text
    assert asset.status_code == 200
    assert len(asset.content) > 100_000
    assert schema.json()["info"]["title"] == "vaultapi"
    log = server.log()
    assert "DEVELOPMENT MODE" in log
    assert '"logger": "vaultapi.access"' in log
    assert '"request_id"' in log


def test_two_workers_on_postgresql(workdir: Path, postgresql_url: str) -> None:
    env = {"VAULTAPI_DATABASE_URL": postgresql_url}
    with running_server(workdir, env=env, args=["--workers", "2"]) as server:
        for _ in range(40):
            response = httpx.get(f"{server.base_url}/readyz")
            assert response.status_code == 200
    log = server.log()
    assert "Started parent process" in log
    assert log.count("Application startup complete") == 2
    assert not (workdir / ".vaultapi" / "vaultapi.db").exists()


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _test_ca_and_server_certificate(tmp: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a certificate it issued for 127.0.0.1 (with its key)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("vaultapi test CA", ca_key, None, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("127.0.0.1", key, (ca.subject, ca_key), ca=False)
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


def test_tls_serves_https_with_hsts(workdir: Path) -> None:
    """The client verifies the server against the test's own CA; a client that
    does not trust that CA refuses; plain HTTP on the TLS port gets nowhere."""
    ca, cert, key = _test_ca_and_server_certificate(workdir)
    context = ssl.create_default_context(cafile=str(ca))
    env = {"VAULTAPI_SERVER__SSL_CERTFILE": str(cert), "VAULTAPI_SERVER__SSL_KEYFILE": str(key)}
    with running_server(workdir, env=env, scheme="https", verify=context) as server:
        response = httpx.get(f"{server.base_url}/healthz", verify=context)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{server.base_url}/healthz", verify=ssl.create_default_context())
        plain = server.base_url.replace("https://", "http://")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{plain}/healthz", timeout=3)
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "Uvicorn running on https://" in server.log()


def test_tls_by_command_line_options(workdir: Path) -> None:
    ca, cert, key = _test_ca_and_server_certificate(workdir)
    context = ssl.create_default_context(cafile=str(ca))
    args = ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    with running_server(workdir, args=args, scheme="https", verify=context) as server:
        response = httpx.get(f"{server.base_url}/readyz", verify=context)
    assert response.status_code == 200


def test_plain_http_has_no_hsts(workdir: Path) -> None:
    with running_server(workdir) as server:
        response = httpx.get(f"{server.base_url}/healthz")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
