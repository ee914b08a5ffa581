"""Standard Webhooks signatures, verified by the standardwebhooks library as a receiver
would, and signing secrets encrypted at rest."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from service.domain.webhooks.signing import (
    SecretBox,
    SecretUnreadable,
    new_secret,
    render_body,
    signed_headers,
)

PAYLOAD = {"type": "comment.approved", "timestamp": "2026-01-01T00:00:00+00:00",
           "data": {"comment": {"id": 7, "body": "Grüße — ünïcode ✓"}}}


def signed(secrets: list[str], now: datetime | None = None) -> tuple[str, dict[str, str]]:
    body = render_body("evt_1", PAYLOAD)
    return body, signed_headers(secrets, "evt_1", body, now or datetime.now(UTC))


def test_new_secrets_are_whsec_with_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_receiver_verifies_and_reads_the_event() -> None:
    secret = new_secret()
    body, headers = signed([secret])
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-signature"].startswith("v1,")
    event = Webhook(secret).verify(body.encode(), headers)
    assert event == {"id": "evt_1", **PAYLOAD}


def test_tampered_body_id_or_timestamp_fails_verification() -> None:
    secret = new_secret()
    body, headers = signed([secret])
    receiver = Webhook(secret)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body.replace("7", "8").encode(), headers)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body.encode(), {**headers, "webhook-id": "evt_2"})
    later = str(int(headers["webhook-timestamp"]) + 1)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body.encode(), {**headers, "webhook-timestamp": later})


def test_another_secret_does_not_verify() -> None:
    body, headers = signed([new_secret()])
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body.encode(), headers)


def test_during_rotation_both_secrets_verify() -> None:
    new, old = new_secret(), new_secret()
    body, headers = signed([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body.encode(), headers)["id"] == "evt_1"
    assert Webhook(old).verify(body.encode(), headers)["id"] == "evt_1"


def test_old_timestamps_are_rejected_by_receivers() -> None:
    secret = new_secret()
    body, headers = signed([secret], now=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body.encode(), headers)


def test_body_is_compact_json_with_the_event_id() -> None:
    body = render_body("evt_9", PAYLOAD)
    assert json.loads(body)["id"] == "evt_9"
    assert ", " not in body
    assert "ü" in body


def test_secrets_are_encrypted_at_rest_and_need_the_same_key() -> None:
    secret = new_secret()
    sealed = SecretBox("service-key-0123456789").seal(secret)
    assert secret not in sealed
    assert secret.removeprefix("whsec_") not in sealed
    assert SecretBox("service-key-0123456789").open(sealed) == secret
    with pytest.raises(SecretUnreadable, match="WARDEN_SECRET_KEY"):
        SecretBox("another-key-0123456789").open(sealed)


def test_no_secret_no_signature() -> None:
    with pytest.raises(ValueError, match="secret"):
        signed_headers([], "evt_1", "{}", datetime.now(UTC))
