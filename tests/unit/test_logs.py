"""Log routing: what an operator's log pipeline receives, as JSON lines."""

from __future__ import annotations

import io
import json
import logging

from service.logs import configure_logging


def _lines_of(logger_name: str, *records: tuple[int, str]) -> list[dict[str, str]]:
    configure_logging("INFO")
    logger = logging.getLogger(logger_name)
    ours = next(h for h in logger.handlers if getattr(h, "_warden", False))
    assert isinstance(ours, logging.StreamHandler)
    sink = io.StringIO()
    previous = ours.setStream(sink)
    try:
        for level, message in records:
            logger.log(level, message)
    finally:
        ours.setStream(previous)
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def test_rate_limit_storage_warnings_arrive_as_json_but_not_every_429() -> None:
    lines = _lines_of(
        "flask-limiter",
        (logging.INFO, "ratelimit 2 per 1 minute (127.0.0.1) exceeded at endpoint: x"),
        (logging.WARNING, "Rate limit storage unreachable - falling back to in-memory storage"),
        (logging.INFO, "Rate limit storage recovered"),
    )
    assert [(line["level"], line["logger"]) for line in lines] == [
        ("warning", "flask-limiter"), ("info", "flask-limiter")]
    assert "unreachable" in lines[0]["msg"]
    assert "recovered" in lines[1]["msg"]


def test_configuring_twice_adds_no_second_handler() -> None:
    configure_logging("INFO")
    configure_logging("DEBUG")
    for name in ("warden", "flask-limiter"):
        ours = [h for h in logging.getLogger(name).handlers if getattr(h, "_warden", False)]
        assert len(ours) == 1
    lines = _lines_of("warden", (logging.DEBUG, "hidden at INFO"), (logging.INFO, "shown"))
    assert [line["msg"] for line in lines] == ["shown"]
