"""gunicorn settings and hooks (``warden web``).

Requests gunicorn refuses before the app sees them (a request line or headers past its
limits, a malformed request line) get the API's JSON error shape instead of gunicorn's HTML
page: a client of a JSON API reads ``error.code`` whatever refused it.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

# The longest request line gunicorn allows (its default is 4094): a counts request for
# many articles with long keys needs the room. Longer lines get a JSON 414.
limit_request_line = 8190

_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 500: "internal_error",
          431: "headers_too_large", 417: "expectation_failed", 501: "not_implemented"}


def _write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``write_error`` with the API's ``{"error": {code, message}}`` body."""
    if status_int == 400 and mesg.startswith("Request Line is too large"):
        status_int, reason = 414, "URI Too Long"  # gunicorn releases that answered 400
    if status_int >= 500 and status_int != 501:
        message = "The server could not handle the request."  # its details are in the log
    else:
        message = f"{reason}: {mesg}" if mesg else reason
    body = json.dumps({"error": {"code": _CODES.get(status_int, "bad_request"),
                                 "message": message[:500]}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin1") + body)


util.write_error = _write_json_error


def child_exit(_server: Any, worker: Any) -> None:
    """Tidy up the per-process metric files of an exited worker."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
