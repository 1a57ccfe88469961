"""Inbound provider callbacks: a provider's notification settles a PENDING or UNKNOWN payment.

authenticate (the URL's token, unless the service opted out) → verify
signature → run the route's CALLBACK function (sandboxed) → lock the
payment → confirm a SUCCESS with the route's status query, when it has one
(trust, then verify: a leaked token must not be enough to mark a payment
paid) → move it to SUCCESS or FAILED → record → acknowledge. A final
payment is never changed: a late or repeated notification is acknowledged
and recorded as ``ignored``. A payment still ``RECEIVED`` (its synchronous
answer not yet stored) is refused with 409 so the provider sends it again.

A caller without the route's token gets the same 401 whether or not the
route exists and before any payment is looked up, so a stranger learns
nothing about which routes or payments exist.
"""

import hmac
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from gateway.db import Q, fetch_one_across_a_move
from gateway.errors import (
    CallbackNotConfirmed,
    CallbackNotReady,
    CallbackSignatureInvalid,
    FunctionError,
    InvalidCallbackResult,
    NotFound,
    TransactionNotFound,
    Unauthorized,
)
from gateway.follow_up import status_query
from gateway.functions import runner
from gateway.hot_path import call_spec, registry
from gateway.hot_path.settlement import FINAL, OPEN, RECEIVED, SUCCESS, Settlement, settle
from gateway.jsondoc import parse_object
from gateway.naming import NAME_PART, callback_function_name
from gateway.security.sealed import signature_matches

log = logging.getLogger(__name__)
_PRIVATE_HEADERS = {"authorization", "proxy-authorization", "cookie"}
_LOCK_BY = {"transaction_ref": Q.lock_transaction_by_ref, "unique_id": Q.lock_transaction_by_unique_id,
            "provider_ref": Q.lock_transaction_by_provider_ref}


@dataclass
class CallbackOutcome:
    """What the switch did with a notification and what the provider is answered."""

    outcome: str  # applied, ignored, unmatched, not_ready, failed
    http_status: int = 200
    body: dict = field(default_factory=dict)
    transaction_id: int | None = None
    client_id: int | None = None


_NO_TOKEN = "-" * 43  # compared against when the route is unknown, so both cases take the same time


def find_route(rt, app_id, microservice, route_name):
    """The route whose CALLBACK function serves this URL, or ``None``."""
    if not all(isinstance(p, str) and NAME_PART.fullmatch(p) for p in (app_id, microservice, route_name)):
        return None
    route = rt.registry.callback_route(callback_function_name(app_id, microservice, route_name))
    return route if route is not None and route.callback_sql is not None else None


def authenticate(route, token):
    """The route, if ``token`` is its callback token (or it opted out of one); else the one 401 everyone gets."""
    if route is not None and not route.callback_needs_token:
        return route
    expected = route.callback_token if route is not None and route.callback_token else _NO_TOKEN
    presented = token if isinstance(token, str) else ""
    if hmac.compare_digest(expected.encode(), presented.encode()) and expected is not _NO_TOKEN:
        return route
    raise Unauthorized("The callback URL's token is missing or wrong; nothing was changed.", headers={})


def verify_signature(rt, route, raw, headers):
    """Refuse (401, nothing changes) a notification whose HMAC-SHA256 the service requires and it lacks."""
    header = route.callback.get("hmac_header")
    if not header:
        return
    secret = rt.sealer.open(route.callback.get("secret_sealed", ""))
    if secret is None:
        log.error("callback secret of %s cannot be opened (MOSPAY_SEAL_KEY changed?)", route.callback_function)
        raise CallbackSignatureInvalid()
    if not signature_matches(secret, raw, headers.get(header)):
        log.warning("callback for %s refused: bad or missing %s", route.callback_function, header)
        raise CallbackSignatureInvalid()


def receive(rt, app_id, microservice, route_name, raw, headers, token=None):
    """Handle one notification; returns a ``CallbackOutcome`` or raises the error the provider gets."""
    route = authenticate(find_route(rt, app_id, microservice, route_name), token)
    verify_signature(rt, route, raw, headers)
    payload = parse_object(raw)  # a provider's notification is a JSON object, like every body here
    mapped = _map(rt, route, payload, headers)
    with rt.db.transaction() as conn:
        outcome = _apply(rt, conn, route, payload, mapped)
    if outcome.outcome == "unconfirmed":
        raise CallbackNotConfirmed(transaction_ref=outcome.body.get("transaction_ref"))
    if outcome.outcome == "unmatched":
        raise TransactionNotFound(f"No payment of this route has {mapped.match_key} {mapped.match_value!r}.")
    if outcome.outcome == "not_ready":
        raise CallbackNotReady(transaction_ref=outcome.body.get("transaction_ref"))
    return outcome


def _map(rt, route, payload, headers):
    public_headers = {k.lower(): v for k, v in headers.items() if k.lower() not in _PRIVATE_HEADERS}
    context = {**route.context, "received_at": datetime.now(UTC).isoformat(), "callback": True}
    if route.credentials:  # e.g. to verify a provider's own signature scheme in SQL
        context["credentials"] = route.credentials
    try:
        result = runner.run(rt, rt.registry.client(route.app_id), route.callback_sql,
                            (payload, public_headers, context))
        return call_spec.parse_callback(result)
    except runner.FunctionFailure as failure:
        _record_failure(rt, route, payload, failure.detail)
        raise FunctionError("The route's callback function failed; nothing was changed.") from None
    except ValueError as problem:
        _record_failure(rt, route, payload, str(problem))
        raise InvalidCallbackResult(f"{InvalidCallbackResult.message} {problem}; nothing was changed.") from None


def _record_failure(rt, route, payload, detail):
    with rt.db.connection() as conn:
        _record(conn, route, None, "failed", None, None, payload, None, detail)


def _lock(conn, route, mapped):
    if mapped.match_key == "transaction_ref":
        try:
            uuid.UUID(mapped.match_value)
        except ValueError:
            return None
    # Not found may mean "moved out of the DEFAULT partition meanwhile": every way of matching looks once more.
    return fetch_one_across_a_move(conn, _LOCK_BY[mapped.match_key], {
        "client_service_id": route.client_service_id, "client_id": route.client_id, "value": mapped.match_value})


def _apply(rt, conn, route, payload, mapped):
    """Inside one transaction: lock the payment, settle it if it is open and the news is final, record."""
    answer = mapped.answer
    row = _lock(conn, route, mapped)  # FOR UPDATE: a callback and a status query never settle twice
    if row is None:
        _record(conn, route, None, "unmatched", None, None, payload, answer, f"no payment with that "
                f"{mapped.match_key}")
        return CallbackOutcome("unmatched", 404, client_id=route.client_id)
    before = row["status"]
    if before == RECEIVED:
        _record(conn, route, row["id"], "not_ready", before, before, payload, answer, "synchronous answer pending")
        return CallbackOutcome("not_ready", 409, {"transaction_ref": row["ref"]}, row["id"], route.client_id)
    if before not in OPEN or answer["status"] not in FINAL:
        detail = (f"already final ({before})" if before not in OPEN
                  else f"not a final state ({answer['status']})")
        _record(conn, route, row["id"], "ignored", before, before, payload, answer, detail)
        return CallbackOutcome("ignored", 200, _ack(mapped, "ignored"), row["id"], route.client_id)
    detail = "settled by a provider callback"
    if answer["status"] == SUCCESS and status_query.has_status_query(route):
        # Trust, then verify: the provider's own status API has the last word on money received.
        confirmed = status_query.ask_provider(rt, route, row, "verify_callback")
        if confirmed is None:
            _record(conn, route, row["id"], "unconfirmed", before, before, payload, answer,
                    "the status query did not confirm SUCCESS (not final or unreachable)")
            return CallbackOutcome("unconfirmed", 409, {"transaction_ref": row["ref"]}, row["id"], route.client_id)
        # The provider's own answer decides the state; what the callback told more (a receipt) is kept.
        extra = {k: v for k, v in answer["data"].items() if v is not None}
        answer = {**confirmed.answer, "data": {**extra, **{k: v for k, v in confirmed.answer["data"].items()
                                                           if v is not None}}}
        detail = f"provider callback, confirmed by the status query ({answer['status']})"
    # The row is locked: the compare-and-set cannot miss, and the client is told by callback.
    settle(conn, row["id"], OPEN, Settlement.from_answer(answer, row["ref"], row["unique_id"], detail),
           notify_client=True, created_at=row.get("created_at"))
    _record(conn, route, row["id"], "applied", before, answer["status"], payload, answer, None)
    log.info("payment %s %s → %s by provider callback", row["ref"], before, answer["status"],
             extra={"transaction_ref": row["ref"], "status": answer["status"]})
    return CallbackOutcome("applied", 200, _ack(mapped, "applied"), row["id"], route.client_id)


def rotate_token(rt, app_id, key, actor):
    """A new callback URL token for one client route (the old one is refused from now on); returns the new
    ``callback_url``, shown in this answer only."""
    with rt.db.transaction() as conn:
        row = conn.execute(Q.find_route, {"app_id": app_id, **key}).fetchone()
        if row is None or row["callback_function"] is None:
            raise NotFound("The client has no such route with a callback function.", details={"app_id": app_id, **key})
        token = registry.new_callback_token()
        conn.execute(Q.rotate_callback_token, {"id": row["id"], "sealed": rt.sealer.seal(token)})
        conn.execute(Q.insert_audit, {"actor": actor, "action": "route.callback_token.rotate",
                                      "target": f"{app_id}:{key['microservice']}/{key['service']}/{key['route']}",
                                      "before": None, "after": None})
        conn.execute(Q.notify_registry_changed, ("route",))
    rt.registry.reload()
    return {"callback_url": registry.callback_url(rt.config.PUBLIC_URL or "", app_id, key["microservice"],
                                                  key["route"], token)}


def _ack(mapped, outcome):
    return mapped.ack if mapped.ack is not None else {"received": True, "outcome": outcome}


def _record(conn, route, transaction_id, outcome, before, after, payload, answer, detail):
    conn.execute(Q.insert_provider_callback, {
        "client_service_id": route.client_service_id, "transaction_id": transaction_id, "outcome": outcome,
        "status_before": before, "status_after": after, "payload": Jsonb(payload),
        "result": Jsonb(answer) if answer is not None else None, "detail": detail})
