"""One webhook try: resolve, check the address, POST to that address, classify the answer.

The request goes to the address that passed the SSRF check (the URL's host is replaced by
the IP), while the ``Host`` header and TLS SNI/certificate checks keep the original name,
so DNS cannot answer differently between check and connect. Redirects are not followed
(a redirect is a failure), proxies from the environment are ignored, the whole try (DNS
included) has one time limit, and at most ``max_response_bytes`` of the answer are read.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from service.domain.webhooks.addresses import (
    AddressRefused,
    Resolver,
    checked_address,
    system_resolver,
)

USER_AGENT = "CommentWarden-Webhooks/1"


@dataclass(frozen=True)
class Message:
    url: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    max_response_bytes: int
    allow_private: bool


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    remote_address: str | None = None
    # 410 Gone: the receiver says the endpoint is gone for good; it gets disabled.
    gone: bool = False


@dataclass
class _Trace:
    """What is known so far, for the outcome of a try that is cut short."""

    started: float = field(default_factory=time.monotonic)
    address: str | None = None

    def elapsed_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)


def request_host(url: str) -> str:
    """The host as sent on the wire (IDNA-encoded), for DNS, SNI and the Host header."""
    return httpx.URL(url).raw_host.decode("ascii")


def classify(status_code: int, location: str | None = None) -> tuple[bool, str | None, bool]:
    """(succeeded, error, gone) for an HTTP status: only 2xx counts as delivered."""
    if 200 <= status_code < 300:
        return True, None, False
    if 300 <= status_code < 400:
        where = f" to {location[:200]}" if location else ""
        return False, (f"redirect ({status_code}){where} not followed; point the endpoint "
                       "at the final URL"), False
    if status_code == 410:
        return False, "410 Gone: the receiver says this endpoint no longer exists", True
    return False, f"HTTP {status_code}", False


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle costs more than a loopback request."""
    return httpx.create_ssl_context()


def send(message: Message, limits: Limits, *, resolve: Resolver = system_resolver,
         transport: httpx.AsyncBaseTransport | None = None,
         verify: ssl.SSLContext | None = None) -> Outcome:
    """Make one try; never raises for network trouble, it is an outcome like any other."""
    trace = _Trace()
    verify = verify or _default_tls()
    try:
        url = httpx.URL(message.url)
        host = request_host(message.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = _resolve_within(
            lambda: checked_address(host, port, allow_private=limits.allow_private,
                                    resolve=resolve),
            limits.timeout_seconds)
        trace.address = address
        remaining = limits.timeout_seconds - (time.monotonic() - trace.started)
        if remaining <= 0:
            raise TimeoutError
        return asyncio.run(asyncio.wait_for(
            _post(message, address, limits, trace, transport, verify), remaining))
    except AddressRefused as exc:
        return Outcome(False, trace.elapsed_ms(), error=f"refused: {exc}")
    except TimeoutError:
        return Outcome(False, trace.elapsed_ms(),
                       error=f"timed out after {limits.timeout_seconds:g}s",
                       remote_address=trace.address)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return Outcome(False, trace.elapsed_ms(), error=_describe(exc),
                       remote_address=trace.address)


async def _post(message: Message, address: str, limits: Limits, trace: _Trace,
                transport: httpx.AsyncBaseTransport | None,
                verify: ssl.SSLContext) -> Outcome:
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               "accept-encoding": "identity", **message.headers}
    async with httpx.AsyncClient(transport=transport, verify=verify, trust_env=False,
                                 follow_redirects=False,
                                 timeout=limits.timeout_seconds) as client:
        request = client.build_request(
            "POST", message.url, content=message.body.encode(), headers=headers,
            extensions={"sni_hostname": request_host(message.url)})
        # Connect to the checked address; Host and SNI still name the original host.
        request.url = request.url.copy_with(host=address)
        response = await client.send(request, stream=True)
        try:
            body = await _read_capped(response, limits.max_response_bytes)
        finally:
            await response.aclose()
    succeeded, error, gone = classify(response.status_code, response.headers.get("location"))
    return Outcome(succeeded, trace.elapsed_ms(), status_code=response.status_code,
                   error=error, response_body=body, remote_address=address, gone=gone)


async def _read_capped(response: httpx.Response, max_bytes: int) -> str | None:
    """The start of the body, at most ``max_bytes``; the rest is never read."""
    if max_bytes <= 0:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= max_bytes:
            break
    return b"".join(chunks)[:max_bytes].decode("utf-8", errors="replace")


def _resolve_within(lookup: Callable[[], str], seconds: float) -> str:
    """Run the blocking DNS lookup and check, but wait no longer than ``seconds``.

    A stuck resolver keeps a daemon thread busy until the system's own DNS time-out; the
    try itself still ends on time.
    """
    results: queue.Queue[str | Exception] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            results.put(lookup())
        except Exception as exc:
            results.put(exc)

    threading.Thread(target=run, name="webhook-dns", daemon=True).start()
    try:
        value = results.get(timeout=seconds)
    except queue.Empty:
        raise TimeoutError from None
    if isinstance(value, Exception):
        raise value
    return value


def _describe(exc: Exception) -> str:
    kind = {httpx.ConnectError: "could not connect", httpx.TimeoutException: "timed out",
            httpx.RemoteProtocolError: "bad HTTP answer"}
    for cls, words in kind.items():
        if isinstance(exc, cls):
            return f"{words}: {exc}"[:500] if str(exc) else words
    return f"{type(exc).__name__}: {exc}"[:500]
