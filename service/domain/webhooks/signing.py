"""Signing secrets and Standard Webhooks signatures.

Secrets look like ``whsec_<base64 of 32 random bytes>``. They must be readable to sign,
so they are stored encrypted (Fernet: AES-CBC + HMAC) with a key derived by HKDF from
WARDEN_SECRET_KEY; a database dump alone does not reveal them. Signatures are made by the
``standardwebhooks`` library: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, several
separated by spaces while a rotated-out secret is still honoured.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
_KEY_INFO = b"comment-warden/webhook-signing-secrets/v1"


class SecretUnreadable(Exception):
    """The stored secret does not decrypt: WARDEN_SECRET_KEY changed since it was made."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    """Encrypts and decrypts signing secrets with a key derived from the service key."""

    def __init__(self, service_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=_KEY_INFO).derive(service_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("the signing secret cannot be decrypted with the "
                                   "current WARDEN_SECRET_KEY; rotate the secret") from None


def render_body(event_id: str, payload: dict[str, Any]) -> str:
    """The exact text that is signed and sent: ``{"id", "type", "timestamp", "data"}``."""
    return json.dumps({"id": event_id, **payload}, separators=(",", ":"), ensure_ascii=False)


def signed_headers(signing_secrets: Sequence[str], message_id: str, body: str,
                   now: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret, newest first."""
    if not signing_secrets:
        raise ValueError("at least one signing secret is needed")
    seconds = math.floor(now.timestamp())
    moment = datetime.fromtimestamp(seconds, UTC)
    signatures = [Webhook(secret).sign(message_id, moment, body) for secret in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(signatures),
    }
