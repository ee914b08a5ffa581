"""Fixtures shared by the moderator, admin and webhook API tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from service.domain.sites import create_api_key, create_site
from service.extensions import db


@pytest.fixture
def keys(app: Flask, demo_site: str) -> dict[str, str]:
    """Plain keys: moderator and admin on demo, admin on another site, operator, revoked."""
    with app.app_context():
        create_site(db.session, "other", ["https://other.example"])
        made = {
            "mod": create_api_key(db.session, demo_site, "moderator")[1],
            "admin": create_api_key(db.session, demo_site, "admin")[1],
            "other_admin": create_api_key(db.session, "other", "admin")[1],
            "operator": create_api_key(db.session, None, "admin")[1],
        }
        revoked, plain = create_api_key(db.session, demo_site, "admin")
        revoked.revoked_at = datetime.now(UTC)
        made["revoked"] = plain
        db.session.commit()
    return made


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
