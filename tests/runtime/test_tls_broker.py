"""MQTT over TLS against a real Mosquitto TLS listener: a private CA, a password, and
client certificates (mutual TLS). Certificates are made per test with `cryptography`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from factoryax.config import Workspace
from factoryax.runtime import Runtime, parse_runtime
from tests.runtime.brokers import Mosquitto, free_port

TOPIC = "factoryax/changwon-1/line-1/press-01/readings"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _pki(folder: Path, ca_name: str = "plant-ca") -> Path:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = _key()
    ca_name_x = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name_x)
        .issuer_name(ca_name_x)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
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
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder, "ca", ca, ca_key)
    for name, san in (
        (
            "server",
            [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ],
        ),
        ("client", [x509.DNSName("factoryax-runtime")]),
    ):
        key = _key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name_x)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write(folder, name, cert, key)
    return folder


class TlsMosquitto(Mosquitto):
    """The test broker with a TLS listener (and a password file) instead of plain TCP."""

    def __init__(self, folder: Path, pki: Path, *, client_certs: bool) -> None:
        super().__init__(folder, free_port())
        passwords = folder / "passwords"
        subprocess.run(
            ["mosquitto_passwd", "-b", "-c", str(passwords), "line1", "s3cret-pw"],
            check=True,
            capture_output=True,
        )
        passwords.chmod(0o600)
        plain = self.conf.read_text(encoding="utf-8")
        self.conf.write_text(
            plain.replace("allow_anonymous true\n", "allow_anonymous false\n")
            + f"password_file {passwords}\n"
            + f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\n"
            + f"keyfile {pki / 'server.key'}\n"
            + ("require_certificate true\n" if client_certs else ""),
            encoding="utf-8",
        )


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _publish(port: int, pki: Path, *, client_cert: bool) -> None:
    """Publishes one reading over TLS as a line PLC gateway would."""
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tls-pub")
    pub.username_pw_set("line1", "s3cret-pw")
    pub.tls_set(
        ca_certs=str(pki / "ca.crt"),
        certfile=str(pki / "client.crt") if client_cert else None,
        keyfile=str(pki / "client.key") if client_cert else None,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    pub.connect("localhost", port)
    pub.loop_start()
    ts = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    doc = {"ts": ts.isoformat(), "values": {"oil_temp": 41.5}}
    pub.publish(TOPIC, json.dumps(doc), qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()


def _runtime(ws: Workspace, port: int, tls: dict[str, object]) -> Runtime:
    raw = {
        "batch_ms": 50,
        "sinks": [],
        "line": {
            "kind": "mqtt-json",
            "host": "localhost",
            "port": port,
            "username": "line1",
            "password": "s3cret-pw",
            "tls": tls,
            "rules": [{"topic": "factoryax/+/+/{asset}/readings"}],
        },
    }
    return Runtime(ws, config=parse_runtime(raw))


def _stored(ws: Workspace) -> list[float]:
    return [float(v) for v in ws.lake.query("SELECT value FROM readings").column(0).to_pylist()]


@pytest.mark.parametrize("client_certs", [False, True], ids=["ca+password", "mutual-tls"])
def test_runtime_ingests_over_tls(workspace: Workspace, tmp_path: Path, client_certs: bool) -> None:
    pki = _pki(tmp_path / "pki")
    tls: dict[str, object] = {"ca_file": str(pki / "ca.crt")}
    if client_certs:
        tls |= {"cert_file": str(pki / "client.crt"), "key_file": str(pki / "client.key")}
    with TlsMosquitto(tmp_path / "broker", pki, client_certs=client_certs) as broker:
        runtime = _runtime(workspace, broker.port, tls)
        runtime.start()
        try:
            _wait(lambda: runtime.sources[0].stats.state == "connected", "a TLS session")
            _publish(broker.port, pki, client_cert=client_certs)
            _wait(lambda: _stored(workspace) == [41.5], "the reading in the lake")
        finally:
            runtime.stop()


# paho leaves the socket of a failed TLS handshake for the garbage collector (a
# ResourceWarning it raises inside its own network thread); only that warning is ignored
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning"
)
def test_a_broker_signed_by_another_ca_is_never_trusted(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The runtime holds another plant's CA: the handshake fails, nothing is ingested,
    the source keeps retrying instead of falling back to plain text."""
    pki = _pki(tmp_path / "pki")
    other = _pki(tmp_path / "other", ca_name="other-ca")
    with TlsMosquitto(tmp_path / "broker", pki, client_certs=False) as broker:
        runtime = _runtime(workspace, broker.port, {"ca_file": str(other / "ca.crt")})
        runtime.start()
        log = tmp_path / "broker" / "mosquitto.log"

        def refusals() -> int:  # the runtime refusing the broker's certificate, per attempt
            return log.read_text(encoding="utf-8").count("alert unknown ca")

        try:
            _publish(broker.port, pki, client_cert=False)
            _wait(lambda: refusals() >= 3, "three refused handshakes (the source retries)")
            assert runtime.sources[0].stats.state != "connected"
            assert _stored(workspace) == []
        finally:
            runtime.stop()
