"""Property-based API testing: schemathesis drives every operation in /openapi.json with
generated input and checks that nothing answers 5xx and every answer matches the spec
(status codes, content types, response schemas, headers)."""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.domain.sites import create_api_key, ensure_demo_site
from service.extensions import db

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 15
# No 5xx, and every answer as documented. Left out: "schema-valid input must be accepted",
# because validation here is deliberately stricter than OpenAPI can say (lone surrogates,
# URL schemes, thresholds in order, ids that must exist).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


def test_every_operation_survives_generated_input(app: Flask) -> None:
    with app.app_context():
        ensure_demo_site(db.session)
        _key, plain = create_api_key(db.session, None, "admin")
        db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {plain}"}  # reach past the 401s
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 20
    assert not failures, "\n\n".join(failures)


def test_the_document_names_the_headers_and_the_operator_routes(app: Flask) -> None:
    """What widgets and operators rely on beyond the schemas is in /openapi.json too."""
    doc = app.test_client().get("/openapi.json").get_json()

    def headers(path: str, method: str) -> dict[str, bool]:
        return {p["name"]: p["required"] for p in doc["paths"][path][method]["parameters"]
                if p["in"] == "header"}

    assert headers("/api/v1/sites/{site_id}/comments", "post") == {
        "X-Author-Token": False, "Idempotency-Key": False}
    for method in ("get", "patch", "delete"):
        assert headers("/api/v1/comments/{comment_id}", method) == {"X-Author-Token": True}
    assert set(doc["paths"]["/api/v1/sites/{site_id}/comments"]["post"]["responses"]) >= {
        "202", "400", "404", "409", "422"}
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "get" in doc["paths"][path]
    assert "503" in doc["paths"]["/readyz"]["get"]["responses"]
