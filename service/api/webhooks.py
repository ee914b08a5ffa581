"""Admin routes for a site's webhook endpoints, their deliveries, redelivery and pings.

Every route needs an admin key covering the site. Secrets appear in two answers only
(create, rotate-secret); deliveries are sent after the commit, and the beat sweep sends
any that a lost send leaves behind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, jsonify
from flask.views import MethodView
from marshmallow import RAISE

from service.api.auth import check_site, current_key, requires
from service.api.blueprint import Blueprint, no_input, no_query_params
from service.domain.submissions import get_site
from service.domain.threads import Cursor
from service.domain.webhooks import endpoints as domain
from service.domain.webhooks.signing import SecretBox
from service.extensions import db
from service.models import Delivery, DeliveryStatus, Role, WebhookEndpoint
from service.schemas.webhooks import (
    DeliveryDetailSchema,
    DeliveryPageSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    RedeliveredSchema,
    RedeliverRangeSchema,
    RotateSecretSchema,
    SecretRotatedSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookPatchSchema,
    WebhookSchema,
)
from workers.dispatch import enqueue_delivery

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/admin",
                description="Webhook endpoints and deliveries (Authorization: Bearer <admin key>)")

AUTH = {"security": [{"bearerAuth": []}]}
ENDPOINT = "/sites/<string:site_id>/webhooks/<int:endpoint_id>"


def _context() -> domain.AdminContext:
    settings = current_app.config["WARDEN"]
    return domain.AdminContext(actor_id=f"key:{current_key().prefix}",
                               box=SecretBox(settings.secret_key),
                               allow_private=settings.webhook_allow_private)


def _endpoint(site_id: str, endpoint_id: int) -> WebhookEndpoint:
    check_site(site_id)
    return domain.get_endpoint(db.session, site_id, endpoint_id)


def _commit_and_send(delivery_ids: list[int]) -> None:
    db.session.commit()
    for delivery_id in delivery_ids:
        enqueue_delivery(delivery_id)


@blp.route("/sites/<string:site_id>/webhooks")
class Webhooks(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, WebhookListSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str) -> dict[str, Any]:
        """The site's webhook endpoints (secrets are never shown again)."""
        check_site(site_id)
        get_site(db.session, site_id)
        return {"items": domain.list_endpoints(db.session, site_id)}

    @requires(Role.ADMIN)
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], site_id: str) -> tuple[Response, int]:
        """Add an endpoint; the answer carries its signing secret, shown this once."""
        check_site(site_id)
        get_site(db.session, site_id)
        endpoint, secret = domain.create_endpoint(db.session, site_id, _context(), **args)
        db.session.commit()
        return jsonify({**WebhookSchema().dump(endpoint), "secret": secret}), 201


@blp.route(ENDPOINT)
class WebhookView(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, WebhookSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str, endpoint_id: int) -> WebhookEndpoint:
        """One endpoint, with its health and, when disabled, the reason."""
        return _endpoint(site_id, endpoint_id)

    @requires(Role.ADMIN)
    @blp.arguments(WebhookPatchSchema)
    @blp.response(200, WebhookSchema)
    @blp.doc(**AUTH)
    def patch(self, args: dict[str, Any], site_id: str, endpoint_id: int) -> WebhookEndpoint:
        """Change URL, event types, description; enable or disable (audited)."""
        endpoint = domain.update_endpoint(db.session, _endpoint(site_id, endpoint_id),
                                          _context(), args)
        db.session.commit()
        return endpoint

    @requires(Role.ADMIN)
    @blp.response(204)
    @blp.doc(**AUTH)
    @no_input
    def delete(self, site_id: str, endpoint_id: int) -> None:
        """Delete the endpoint with its deliveries and attempt log."""
        domain.delete_endpoint(db.session, _endpoint(site_id, endpoint_id), _context())
        db.session.commit()


@blp.route(f"{ENDPOINT}/rotate-secret")
class RotateSecret(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(RotateSecretSchema)
    @blp.response(200, SecretRotatedSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], site_id: str, endpoint_id: int) -> dict[str, Any]:
        """New signing secret; the old one also signs during the overlap."""
        endpoint = _endpoint(site_id, endpoint_id)
        secret = domain.rotate_secret(db.session, endpoint, _context(),
                                      timedelta(hours=args["overlap_hours"]))
        db.session.commit()
        return {"secret": secret, "previous_secret_expires_at": domain.rotation_ends(endpoint)}


@blp.route(f"{ENDPOINT}/ping")
class Ping(MethodView):
    @requires(Role.ADMIN)
    @blp.response(202, DeliverySchema)
    @blp.alt_response(409, description="The endpoint is disabled")
    @blp.doc(**AUTH)
    @no_input
    def post(self, site_id: str, endpoint_id: int) -> Delivery:
        """Send a signed ``ping`` event to this endpoint only; follow it in its deliveries."""
        delivery = domain.ping(db.session, _endpoint(site_id, endpoint_id))
        _commit_and_send([delivery.id])
        return delivery


@blp.route(f"{ENDPOINT}/deliveries")
class Deliveries(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(DeliveryQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, DeliveryPageSchema)
    @blp.doc(**AUTH)
    def get(self, args: dict[str, Any], site_id: str, endpoint_id: int) -> dict[str, Any]:
        """The endpoint's deliveries, newest first, optionally by status."""
        endpoint = _endpoint(site_id, endpoint_id)
        before = Cursor.decode(args["cursor"], "newest").after_id if args["cursor"] else None
        status = DeliveryStatus(args["status"]) if args["status"] else None
        rows = domain.list_deliveries(db.session, endpoint, status=status, before=before,
                                      limit=args["limit"] + 1)
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {"items": rows,
                "next_cursor": Cursor("newest", rows[-1].id).encode() if more else None}


@blp.route(f"{ENDPOINT}/deliveries/<int:delivery_id>")
class DeliveryView(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, DeliveryDetailSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str, endpoint_id: int, delivery_id: int) -> Delivery:
        """One delivery with its payload and every attempt (status, time, body start)."""
        return domain.get_delivery(db.session, _endpoint(site_id, endpoint_id), delivery_id)


@blp.route(f"{ENDPOINT}/deliveries/<int:delivery_id>/redeliver")
class RedeliverOne(MethodView):
    @requires(Role.ADMIN)
    @blp.response(202, DeliverySchema)
    @blp.alt_response(409, description="The endpoint is disabled, or the delivery is "
                                        "being sent right now")
    @blp.doc(**AUTH)
    @no_input
    def post(self, site_id: str, endpoint_id: int, delivery_id: int) -> Delivery:
        """Send it again now (same webhook-id); a finished one gets a new round of tries."""
        endpoint = _endpoint(site_id, endpoint_id)
        delivery = domain.get_delivery(db.session, endpoint, delivery_id)
        _commit_and_send([domain.redeliver_one(db.session, endpoint, delivery)])
        return delivery


@blp.route(f"{ENDPOINT}/redeliver")
class RedeliverRange(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(RedeliverRangeSchema)
    @blp.response(202, RedeliveredSchema)
    @blp.alt_response(409, description="The endpoint is disabled")
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], site_id: str, endpoint_id: int) -> dict[str, Any]:
        """Redeliver the deliveries created in [since, until) that failed (or succeeded)."""
        endpoint = _endpoint(site_id, endpoint_id)
        statuses = ([DeliveryStatus.FAILED, DeliveryStatus.SUCCEEDED] if args["status"] == "all"
                    else [DeliveryStatus(args["status"])])
        ids, more = domain.redeliver_range(db.session, endpoint, since=args["since"],
                                           until=args["until"], statuses=statuses)
        _commit_and_send(ids)
        return {"redelivered": len(ids), "delivery_ids": ids, "more": more}
