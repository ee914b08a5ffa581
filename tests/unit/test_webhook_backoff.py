"""The retry schedule: a setting in seconds, spread by jitter, finite."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from config import Settings, SettingsError
from service.domain.webhooks.retry import JITTER, next_delay, total_tries

DEFAULT = Settings().webhook_retry_delays


def test_default_schedule_grows_and_spans_about_a_day() -> None:
    assert list(DEFAULT) == sorted(DEFAULT)
    assert DEFAULT[0] <= 30
    assert 20 * 3600 <= sum(DEFAULT) <= 36 * 3600
    assert total_tries(DEFAULT) == len(DEFAULT) + 1


def test_each_delay_is_its_slot_with_bounded_jitter() -> None:
    rng = random.Random(7)
    for tries_done, base in enumerate(DEFAULT, start=1):
        samples = [next_delay(DEFAULT, tries_done, rng) for _ in range(200)]
        assert all(base * (1 - JITTER) <= s <= base * (1 + JITTER) for s in samples)
        assert len({round(s, 6) for s in samples}) > 100, "jitter spreads the retries"


def test_no_delay_after_the_last_try() -> None:
    assert next_delay((1.0, 2.0), 2) is not None
    assert next_delay((1.0, 2.0), 3) is None
    assert next_delay((1.0, 2.0), 0) is None


def test_jittered_delays_still_grow_when_slots_double() -> None:
    rng = random.Random(1)
    for _ in range(100):
        delays = [next_delay((1.0, 4.0, 16.0), n, rng) for n in (1, 2, 3)]
        assert delays == sorted(delays)


def test_schedule_setting_is_parsed_strictly(tmp_path: Path) -> None:
    env = {"WARDEN_INSTANCE_DIR": str(tmp_path)}
    settings = Settings.from_env({**env, "WARDEN_WEBHOOK_RETRY_SCHEDULE": " 1, 2.5 ,60 "})
    assert settings.webhook_retry_delays == (1.0, 2.5, 60.0)
    assert settings.webhook_retry_schedule == "1,2.5,60"
    for bad in ("soon", "1,,2", "0", "-5", "1," * 40 + "1", "999999999"):
        with pytest.raises(SettingsError, match="WARDEN_WEBHOOK_RETRY_SCHEDULE"):
            Settings.from_env({**env, "WARDEN_WEBHOOK_RETRY_SCHEDULE": bad})


def test_other_webhook_settings_are_coerced(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "WARDEN_INSTANCE_DIR": str(tmp_path), "WARDEN_WEBHOOK_ALLOW_PRIVATE": "yes",
        "WARDEN_WEBHOOK_TIMEOUT_SECONDS": "2.5", "WARDEN_WEBHOOK_MAX_RESPONSE_BYTES": "100",
        "WARDEN_WEBHOOK_DISABLE_AFTER_HOURS": "0.5"})
    assert settings.webhook_allow_private is True
    assert settings.webhook_timeout_seconds == 2.5
    assert settings.webhook_max_response_bytes == 100
    assert settings.webhook_disable_after_hours == 0.5
    assert Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path)}).webhook_allow_private \
        is False
    for name, value in (("ALLOW_PRIVATE", "maybe"), ("TIMEOUT_SECONDS", "0"),
                        ("MAX_RESPONSE_BYTES", "lots"), ("DISABLE_AFTER_HOURS", "-1")):
        with pytest.raises(SettingsError, match=f"WARDEN_WEBHOOK_{name}"):
            Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path),
                               f"WARDEN_WEBHOOK_{name}": value})
