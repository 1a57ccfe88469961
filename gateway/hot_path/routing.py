"""Which provider a payment goes to: a route's routing rules, and the order of failover (issue 15 §2).

A client route may declare, in its YAML, ``routing.rules``: evaluated in order, the first rule
whose conditions the message meets names its targets — other routes of the same client, each
with its own functions and provider. Targets are tried by ``priority`` (lowest first); within a
priority the order is drawn by ``weight``. No rule matching (or no rules): the route itself.

Failover is the payment processor's: it moves to the next target only when nothing reached the
provider (connection refused, circuit open, its token step failed); never after a call may have gone out.
"""

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from gateway.errors import MosPayError
from gateway.hot_path.fields import validate_message

CONDITIONS = ("amount", "currency", "msisdn_prefix", "hours")


@dataclass
class Plan:
    """The routes to try in order, the rule that chose them, and what became of each attempt."""

    rule: str | None
    routes: list
    skipped: list = field(default_factory=list)  # targets that could not be used, with why
    attempts: list = field(default_factory=list)  # {"route", "outcome"} per route tried

    def record(self):
        """What the transaction keeps (its ``routing`` column) and its page shows."""
        return {"rule": self.rule, "attempts": self.attempts, **({"skipped": self.skipped} if self.skipped else {})}


def route_name(route):
    """``microservice.service.route`` of a registry route."""
    return f"{route.microservice}.{route.service}.{route.route}"


def plan(registry, route, message, now=None, rng=random):
    """The ``Plan`` for ``message`` on ``route`` (the route the message names)."""
    rules = (route.context.get("route") or {}).get("routing", {}).get("rules") or ()
    for rule in rules:
        if matches(rule.get("when") or {}, route, message, now):
            ordered = order_targets(rule.get("targets") or (), rng)
            found, skipped = [], []
            for target in ordered:
                candidate = registry.route(route.app_id, target["microservice"], target["service"], target["route"])
                name = f"{target['microservice']}.{target['service']}.{target['route']}"
                if candidate is None or not candidate.enabled:
                    skipped.append({"route": name, "why": "not assigned to this client" if candidate is None
                                    else "disabled"})
                elif not _valid_for(candidate, message):
                    skipped.append({"route": name, "why": "the message does not meet its field rules"})
                elif candidate.missing_credentials:
                    skipped.append({"route": name, "why": "provider credentials missing: "
                                    + ", ".join(candidate.missing_credentials)})
                else:
                    found.append(candidate)
            if found:
                return Plan(rule.get("name") or f"rule {rules.index(rule) + 1}", found, skipped)
            return Plan(rule.get("name") or f"rule {rules.index(rule) + 1}", [route], skipped)
    return Plan(None, [route])


def matches(when, route, message, now=None):
    """True when ``message`` meets every condition of ``when`` (an empty ``when`` always matches)."""
    if "amount" in when and not _amount_in(when["amount"], message.get("f004")):
        return False
    if "currency" in when and _currency(route, message) not in when["currency"]:
        return False
    if "msisdn_prefix" in when:
        msisdn = str(message.get(_code_of(route, "msisdn", "f005")) or "")
        if not any(msisdn.startswith(prefix) for prefix in when["msisdn_prefix"]):
            return False
    return not ("hours" in when and not _in_window(when["hours"], now))


def order_targets(targets, rng=random):
    """Targets by ``priority`` (default 1, lowest first); within a priority, drawn in ``weight`` order."""
    ordered = []
    for priority in sorted({t.get("priority", 1) for t in targets}):
        pool = [t for t in targets if t.get("priority", 1) == priority]
        while pool:
            weights = [max(0.0, float(t.get("weight", 1))) for t in pool]
            pick = rng.choices(pool, weights)[0] if sum(weights) > 0 else pool[0]
            ordered.append(pick)
            pool.remove(pick)
    return ordered


def _amount_in(bounds, value):
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return False
    if not amount.is_finite():  # "NaN" cannot be compared: it meets no bounds
        return False
    low, high = bounds.get("min"), bounds.get("max")
    return (low is None or amount >= Decimal(str(low))) and (high is None or amount <= Decimal(str(high)))


def _code_of(route, kind, default):
    """The code of the route's field of type ``kind`` (the standard message's ``default`` when it has none)."""
    for field_rule in route.fields:
        if field_rule.get("type") == kind:
            return field_rule["code"]
    return default


def _currency(route, message):
    code = _code_of(route, "currency", None)
    if code and message.get(code):
        return message[code]
    return (route.context.get("route") or {}).get("currency") or route.context.get("currency")


def _in_window(hours, now=None):
    """``{"from": "HH:MM", "to": "HH:MM"}`` in UTC; a window past midnight wraps (22:00–06:00)."""
    now = (now or dt.datetime.now(dt.UTC)).time().replace(second=0, microsecond=0)
    start, end = dt.time.fromisoformat(hours["from"]), dt.time.fromisoformat(hours["to"])
    return start <= now < end if start <= end else now >= start or now < end


def _valid_for(route, message):
    try:
        validate_message(route.validator, message)
    except MosPayError:  # the target's own rules refuse it: it is not a candidate
        return False
    return True
