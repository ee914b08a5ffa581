"""Signed webhooks, delivered at least once from the transactional outbox.

- ``catalog``: the event types an endpoint can subscribe to, and matching.
- ``signing``: ``whsec_`` secrets (encrypted at rest) and Standard Webhooks headers.
- ``addresses``: the SSRF rule: which addresses a webhook may reach.
- ``sender``: one HTTP try to a checked address, with a time limit and a size cap.
- ``retry``: when the next try is due (schedule plus jitter).
- ``endpoints``: what admins do (create, change, rotate, ping, redeliver).
- ``deliveries``: fan-out of events, claiming, recording outcomes, what the sweep sends.
"""
