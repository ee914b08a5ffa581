"""One webhook try: where it connects, what counts as delivered, and its limits.

httpx.MockTransport stands in for the network where only classification matters; real
loopback servers show the time limit against a trickling server and TLS to a checked IP
with the original host name kept for SNI and certificate checks.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.domain.webhooks.sender import Limits, Message, Outcome, classify, send
from service.domain.webhooks.signing import new_secret, render_body, signed_headers
from tests.webhook_receiver import Receiver

PUBLIC_IP = "93.184.216.34"
URL = "https://hooks.example.com/warden?x=1"
LIMITS = Limits(timeout_seconds=5, max_response_bytes=64, allow_private=False)


def resolve_to(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


def message(url: str = URL, secret: str | None = None) -> Message:
    body = render_body("evt_abc", {"type": "ping", "timestamp": "t", "data": {}})
    return Message(url, body, signed_headers([secret or new_secret()], "evt_abc", body,
                                             datetime.now(UTC)))


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None
           ) -> httpx.Response:
    """A response that streams its body, as one from the network does."""
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


def try_with(handler: Callable[[httpx.Request], httpx.Response],
             limits: Limits = LIMITS) -> Outcome:
    return send(message(), limits, resolve=resolve_to(PUBLIC_IP),
                transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "succeeded", "gone"), [
    (200, True, False), (201, True, False), (204, True, False), (299, True, False),
    (301, False, False), (302, False, False), (307, False, False), (400, False, False),
    (404, False, False), (410, False, True), (429, False, False), (500, False, False),
    (503, False, False),
])
def test_only_2xx_is_delivered_and_410_means_gone(status: int, succeeded: bool,
                                                  gone: bool) -> None:
    outcome = try_with(lambda request: answer(status, b"x"))
    assert (outcome.succeeded, outcome.gone, outcome.status_code) == (succeeded, gone, status)
    assert (outcome.error is None) == succeeded


def test_redirects_are_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(302, headers={"location": "http://169.254.169.254/"})

    outcome = try_with(handler)
    assert len(seen) == 1
    assert not outcome.succeeded
    assert "redirect (302) to http://169.254.169.254/ not followed" in (outcome.error or "")
    assert classify(302)[1] == "redirect (302) not followed; point the endpoint at the final URL"


def test_request_goes_to_the_checked_address_with_host_and_sni_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, b"ok")

    secret = new_secret()
    sent = message(secret=secret)
    outcome = send(sent, LIMITS, resolve=resolve_to(PUBLIC_IP),
                   transport=httpx.MockTransport(handler))
    assert outcome.succeeded
    assert outcome.remote_address == PUBLIC_IP
    request = seen[0]
    assert str(request.url) == f"https://{PUBLIC_IP}/warden?x=1"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "evt_abc"
    assert request.content == sent.body.encode()
    from standardwebhooks import Webhook

    assert Webhook(secret).verify(request.content, dict(request.headers))["id"] == "evt_abc"


def test_internal_resolution_is_refused_before_any_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    outcome = send(message(), LIMITS, resolve=resolve_to("10.0.0.7"),
                   transport=httpx.MockTransport(handler))
    assert not outcome.succeeded
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused: hooks.example.com resolves to 10.0.0.7")


@pytest.mark.parametrize(("error", "words"), [
    (httpx.ConnectError("connection refused"), "could not connect: connection refused"),
    (httpx.ConnectTimeout("slow"), "timed out"),
    (httpx.ReadTimeout("slow"), "timed out"),
    (httpx.RemoteProtocolError("garbage"), "bad HTTP answer"),
])
def test_network_failures_are_outcomes_not_exceptions(error: Exception, words: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    outcome = try_with(handler)
    assert not outcome.succeeded
    assert outcome.status_code is None
    assert (outcome.error or "").startswith(words)


def test_response_body_is_read_only_up_to_the_cap() -> None:
    outcome = try_with(lambda request: answer(500, b"e" * 10_000))
    assert outcome.response_body == "e" * 64
    none_kept = try_with(lambda request: answer(200, b"ok"),
                         Limits(timeout_seconds=5, max_response_bytes=0, allow_private=False))
    assert none_kept.succeeded
    assert none_kept.response_body is None


def test_a_stuck_resolver_still_ends_on_time() -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(3)
        return [PUBLIC_IP]

    started = time.monotonic()
    outcome = send(message(), Limits(0.5, 64, False), resolve=slow)
    assert time.monotonic() - started < 2
    assert outcome.error == "timed out after 0.5s"


@contextlib.contextmanager
def trickling_server() -> Iterator[int]:
    """Answers one header byte every 0.1 s: each read is quick, the answer never ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.is_set():
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(bytes([byte]))
                time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()


def test_the_whole_try_has_one_time_limit() -> None:
    with trickling_server() as port:
        started = time.monotonic()
        outcome = send(message(f"http://127.0.0.1:{port}/hook"),
                       Limits(timeout_seconds=1, max_response_bytes=64, allow_private=True))
        elapsed = time.monotonic() - started
    assert not outcome.succeeded
    assert outcome.error == "timed out after 1s"
    assert outcome.remote_address == "127.0.0.1"
    assert elapsed < 2.5


def test_loopback_is_refused_at_send_time_unless_allowed() -> None:
    with Receiver() as receiver:
        refused = send(message(receiver.url("/hook", host="localhost")), LIMITS)
        assert not refused.succeeded
        assert "loopback" in (refused.error or "")
        assert receiver.received() == []
        allowed = send(message(receiver.url("/hook", host="localhost")),
                       Limits(timeout_seconds=5, max_response_bytes=64, allow_private=True))
        assert allowed.succeeded
        assert allowed.status_code == 200
        assert allowed.response_body == '{"received": true}'
        assert len(receiver.received("/hook")) == 1


def self_signed(tmp_path: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{host}.pem", tmp_path / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_to_the_checked_ip_keeps_sni_and_certificate_name(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "hooks.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment,return-value]
    trust = ssl.create_default_context(cafile=str(cert))
    limits = Limits(timeout_seconds=5, max_response_bytes=64, allow_private=True)
    with Receiver(tls=server_tls) as receiver:
        outcome = send(message(receiver.url("/hook", host="hooks.test")), limits,
                       resolve=resolve_to("127.0.0.1"), verify=trust)
        assert outcome.succeeded, outcome.error
        assert outcome.remote_address == "127.0.0.1"
        assert sni == ["hooks.test"]
        assert receiver.received("/hook")[0].headers["host"] == f"hooks.test:{receiver.port}"
        # The certificate is checked against the URL's name, not the address connected to.
        other = send(message(receiver.url("/hook", host="other.test")), limits,
                     resolve=resolve_to("127.0.0.1"), verify=trust)
        assert not other.succeeded
        assert "could not connect" in (other.error or "")
        assert len(receiver.received("/hook")) == 1
