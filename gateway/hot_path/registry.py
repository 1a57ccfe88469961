"""The in-memory table of clients and routes every request is resolved against.

Loaded from the database at start, swapped whole on reload (readers never
see half a table), and reloaded when any instance announces a change on
the ``mospay_registry`` channel, plus periodically as a safety net.
"""

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from gateway.db import Q
from gateway.functions import manifest
from gateway.hot_path import provider_tokens
from gateway.hot_path.fields import SECRET_CODES, STANDARD_FIELDS, compile_validator
from gateway.security.masking import Secrets

log = logging.getLogger(__name__)
CHANNEL = "mospay_registry"
MAX_NOTIFY_BATCH = 10_000  # notifications read per pass of the registry listener


@dataclass(frozen=True)
class ClientEntry:
    """What authentication needs to know of a client."""

    id: int
    app_id: str
    name: str
    username: str
    password_hash: str
    credential_version: int
    active: bool
    function_role: str | None = None  # the role its functions run as, through its gate (migration 0074)


@dataclass(frozen=True)
class RouteEntry:
    """A client's route, with everything the hot path needs precomputed."""

    client_service_id: int
    client_id: int
    app_id: str
    microservice: str
    service: str
    route: str
    url: str
    method: str
    timeout_ms: int
    enabled: bool
    request_function: str
    response_function: str
    validator: object = field(repr=False)
    secret_codes: tuple  # f007/f008 and every field the service types `secret`
    request_sql: bytes = field(repr=False)
    response_sql: bytes = field(repr=False)
    context: dict = field(repr=False)
    callback_function: str | None = None
    callback_sql: bytes | None = field(default=None, repr=False)
    # The service's "callback" settings: auth, hmac_header, secret_sealed, provider_ref_field (never in context).
    callback: dict = field(default_factory=dict, repr=False)
    # The unguessable token of the route's callback URL (opened from its sealed copy); None: not available.
    callback_token: str | None = field(default=None, repr=False)
    fields: tuple = field(default=(), repr=False)  # the field rules in force (the standard message's when none)
    template: str = ""
    # The provider credentials in clear (the service's, overridden per route): handed to functions at call time
    # as context.credentials, never stored in context, a row or a log.
    credentials: dict = field(default_factory=dict, repr=False)
    required_credentials: tuple = ()  # what the template declares it needs
    token_step: dict | None = field(default=None, repr=False)  # how to fetch context.auth (template or service)
    status_function: str | None = None
    status_sql: bytes | None = field(default=None, repr=False)
    token_scope: str | None = field(default=None, repr=False)  # what its provider token belongs to (hashed)
    msisdn_field: str | None = None  # the field masked into the payment's log line

    @property
    def missing_credentials(self):
        """The credential names the template needs that this route has no value for."""
        return [name for name in self.required_credentials if not self.credentials.get(name)]

    @property
    def callback_needs_token(self):
        """False only when the service opted out of the URL token (``"callback": {"auth": "none"}``)."""
        return self.callback.get("auth", "token") != "none"

    @property
    def callback_unauthenticated(self):
        """True when anyone may post this route's callbacks: no URL token and no signature."""
        return not self.callback_needs_token and not self.callback.get("hmac_header")

    @property
    def provider_ref_field(self):
        """The key of the response function's ``data`` that holds the provider's reference."""
        return self.callback.get("provider_ref_field", "provider_ref")

    @property
    def key(self):
        return (self.app_id, self.microservice, self.service, self.route)

    @property
    def secret_values(self):
        """What is masked by value wherever this route's functions may have copied it: the provider
        credentials and the callback token (in context.route.callback_url)."""
        return (*self.credentials.values(), *((self.callback_token,) if self.callback_token else ()))

    @cached_property
    def secrets(self):
        """``secret_values`` compiled once per route load (every disguise, its patterns): a payment whose message
        carries no secret field scrubs with these as they are."""
        return Secrets(self.secret_values)


def _function_call(query, name, client_id):
    # Through the client's gate (migration 0074), which calls the function in mospay_fn as the client's role.
    # Compiled to bytes once per route: a Composed query would be rebuilt by psycopg on every call.
    return sql.SQL(query).format(gate=sql.Identifier(f"gate_{int(client_id)}"), function=sql.Literal(name)).as_bytes()


def _validator(fields, cache):
    # Many routes share a service's fields: compile each distinct definition once per reload.
    key = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    if key not in cache:
        cache[key] = compile_validator(fields)
    return cache[key]


def secret_codes(fields):
    """The codes masked everywhere for a route: f007/f008 always, and any field typed ``secret``."""
    typed = (f["code"] for f in fields or () if f.get("type") == "secret" and f.get("code") not in SECRET_CODES)
    return (*SECRET_CODES, *sorted(set(typed)))


def callback_url(public_url, app_id, microservice, route, token=None):
    """Where a provider posts its notifications for a route (``public_url`` "" gives the path)."""
    url = f"{public_url}/api/v1/callbacks/{app_id}/{microservice}/{route}"
    return f"{url}?token={token}" if token else url


def new_callback_token():
    """A fresh callback URL token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def msisdn_field(fields):
    """The code of the service's mobile-number field: the first typed ``msisdn`` (the standard message: f005)."""
    return next((f["code"] for f in fields or () if f.get("type") == "msisdn"), None if fields else "f005")


def currency_field(fields):
    """The code of the field typed ``currency``, if the service defines one: it then names the payment's currency."""
    return next((f["code"] for f in fields or () if f.get("type") == "currency"), None)


def _route_entry(row, validators, public_url=None, callback_token=None, credentials=None):
    overrides = row["route_settings"]
    upstream = {"url": row["url"], "method": row["method"], "timeout_ms": row["timeout_ms"],
                **overrides.get("upstream", {})}
    settings = {**row["service_settings"], **{k: v for k, v in overrides.items() if k not in ("upstream", "fields")}}
    callback = settings.pop("callback", None) or {}  # holds a sealed secret: never handed to a function
    template = row.get("template") or ""
    token_step = settings.pop("token", None) or manifest.token_step(template)
    fields = overrides.get("fields", row["fields"])
    # The payment's currency: the field the service defines for it, else the service's setting, else the template's.
    settings.setdefault("currency", manifest.default_currency(template))
    if settings["currency"] is None:
        del settings["currency"]
    if currency_field(fields):
        settings["currency_field"] = currency_field(fields)
    token = callback_token if callback.get("auth", "token") != "none" else None
    if row["callback_function"] and public_url and "callback_url" not in settings:
        settings["callback_url"] = callback_url(public_url, row["app_id"], row["microservice"], row["route"], token)
    return RouteEntry(
        client_service_id=row["client_service_id"], client_id=row["client_id"], app_id=row["app_id"],
        microservice=row["microservice"], service=row["service"], route=row["route"],
        url=upstream["url"], method=upstream["method"], timeout_ms=upstream["timeout_ms"], enabled=row["enabled"],
        request_function=row["request_function"], response_function=row["response_function"],
        validator=_validator(fields, validators), secret_codes=secret_codes(fields),
        request_sql=_function_call(Q.call_request_function, row["request_function"], row["client_id"]),
        response_sql=_function_call(Q.call_response_function, row["response_function"], row["client_id"]),
        fields=tuple(overrides.get("fields", row["fields"]) or STANDARD_FIELDS),
        callback_function=row["callback_function"], callback=callback, callback_token=token,
        callback_sql=_function_call(Q.call_callback_function, row["callback_function"], row["client_id"])
        if row["callback_function"] else None,
        template=template, msisdn_field=msisdn_field(fields), credentials=credentials or {},
        required_credentials=manifest.required_credentials(template),
        token_step=token_step, status_function=row.get("status_function"),
        token_scope=provider_tokens.scope_of(upstream["url"], token_step, credentials or {}) if token_step else None,
        status_sql=_function_call(Q.call_request_function, row["status_function"], row["client_id"])
        if row.get("status_function") else None,
        context={
            "client": {"app_id": row["app_id"], "name": row["client_name"]},
            "service": {"microservice": row["microservice"], "service": row["service"], "route": row["route"],
                        **upstream},
            "route": settings,
        },
    )


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of clients and routes, swapped whole on reload."""

    clients: dict
    routes: dict
    callbacks: dict = field(default_factory=dict)  # routes by CALLBACK function name


class Registry:
    """Clients by App-ID and routes by (app_id, microservice, service, route)."""

    def __init__(self, db, public_url=None, sealer=None):
        self._db = db
        self.public_url = public_url
        self._sealer = sealer  # opens the routes' sealed callback tokens
        self.snapshot = Snapshot({}, {})
        self._built_clients, self._built_routes = {}, {}  # the last reload's entries, by their inputs
        self._opened = {}  # sealed credential → its value: each opened once per process, not once per reload
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = None

    def reload(self):
        """Read every client and route again and swap the tables in one step."""
        # An entry whose inputs are unchanged since the last reload is kept as it was: with 10,000 clients a
        # full rebuild (rows as dicts, validators, function calls, sealed tokens opened) took ~0.15 s of each
        # worker's GIL every REGISTRY_RELOAD_SECONDS, which showed in the payments' p99.
        started, rebuilt = time.perf_counter(), 0
        with self._reload_lock, self._db.connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            rows = cursor.execute(Q.load_clients).fetchall()
            names = [column.name for column in cursor.description]
            built_clients = {row: self._built_clients.get(row) or ClientEntry(**dict(zip(names, row, strict=True)))
                             for row in rows}
            clients = {entry.app_id: entry for entry in built_clients.values()}
            routes, validators, built_routes = {}, {}, {}
            opened = self._open_credentials(conn.execute(Q.load_provider_credentials).fetchall())
            for row in conn.execute(Q.load_routes).fetchall():
                credentials = self._credentials(opened, row)
                inputs = (row["fingerprint"], tuple(sorted(credentials.items())), self.public_url)
                entry = self._built_routes.get(inputs)
                if entry is None:
                    rebuilt += 1
                    try:
                        entry = _route_entry(row, validators, self.public_url, self._callback_token(conn, row),
                                             credentials)
                    except Exception:  # noqa: BLE001 - one bad route must not stop every other from loading
                        log.exception("route %s/%s/%s/%s cannot be loaded; it answers 404 until fixed",
                                      row["app_id"], row["microservice"], row["service"], row["route"])
                        continue
                routes[entry.key] = entry
                built_routes[inputs] = entry
            # Swapped in under the lock: a reload that read older rows (the listener's, an admin request's) must
            # not install its table after a later one's.
            self._built_clients, self._built_routes = built_clients, built_routes
            callbacks = {entry.callback_function: entry for entry in routes.values() if entry.callback_function}
            self.snapshot = Snapshot(clients, routes, callbacks)
        log.debug("registry loaded: %d clients, %d routes (%d rebuilt) in %.0f ms", len(clients), len(routes),
                  rebuilt, (time.perf_counter() - started) * 1000)

    def _open_credentials(self, rows):
        """Every stored credential in clear, by (service id, client service id or None): each opened once."""
        opened, still = {}, {}
        for item in rows:
            sealed = item["value_sealed"]
            value = self._opened.get(sealed)
            if value is None and self._sealer is not None:
                value = self._sealer.open(sealed)
            if value is not None:
                still[sealed] = value
            if value is None:
                log.error("provider credential %s of service %s cannot be opened (MOSPAY_SEAL_KEYS changed?)",
                          item["name"], item["service_id"])
                continue
            opened.setdefault((item["service_id"], item["client_service_id"]), {})[item["name"]] = value
        self._opened = still  # only the credentials stored now: a rotated one is forgotten
        return opened

    @staticmethod
    def _credentials(opened, row):
        """The route's provider credentials: the service's, each overridden by the route's own."""
        service_id = row["service_id"]
        return {**opened.get((service_id, None), {}), **opened.get((service_id, row["client_service_id"]), {})}

    def _callback_token(self, conn, row):
        """The route's callback token in clear; one is made (and stored sealed) for a route that has none."""
        if not row["callback_function"] or self._sealer is None:
            return None
        if row["callback_token_sealed"] is None:  # assigned before migration 0009
            stored = conn.execute(Q.set_missing_callback_token, {
                "id": row["client_service_id"], "sealed": self._sealer.seal(new_callback_token())}).fetchone()
            row = {**row, "callback_token_sealed": stored["callback_token_sealed"] if stored else None}
        token = self._sealer.open(row["callback_token_sealed"] or "")
        if token is None:
            log.error("callback token of %s cannot be opened (MOSPAY_SEAL_KEY changed?): its callbacks are refused",
                      row["callback_function"])
        return token

    @property
    def clients(self):
        return self.snapshot.clients

    @property
    def routes(self):
        return self.snapshot.routes

    def client(self, app_id):
        """The client with this App-ID, or ``None``."""
        return self.snapshot.clients.get(app_id)

    def route(self, app_id, microservice, service, route):
        """The route for this key, or ``None``."""
        return self.snapshot.routes.get((app_id, microservice, service, route))

    def callback_route(self, callback_function):
        """The route whose CALLBACK function has this name, or ``None``."""
        return self.snapshot.callbacks.get(callback_function)

    def start_listening(self, reload_seconds):
        """Reload on every ``mospay_registry`` notification, and every ``reload_seconds``."""
        self._stop.clear()
        thread = threading.Thread(target=self._listen, args=(reload_seconds,), name="registry-listener", daemon=True)
        thread.start()
        self._listener = thread
        return thread

    def stop(self):
        """Stop the listener thread and wait for it (it exits within a second)."""
        self._stop.set()
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join(timeout=3)
        self._listener = None

    def _listen(self, reload_seconds):
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._db.url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.reload()  # catch up on anything missed while disconnected
                    self._wait_for_changes(conn, reload_seconds)
            except Exception:  # noqa: BLE001 - the listener must survive any outage
                log.warning("registry listener lost its connection; retrying", exc_info=True)
                self._stop.wait(1.0)

    def _wait_for_changes(self, conn, reload_seconds):
        last_reload = time.monotonic()
        while not self._stop.is_set():
            senders = {notify.pid for notify in conn.notifies(timeout=1.0, stop_after=1)}
            if senders:  # and whatever else is queued, in one batch: a flood costs one query per batch
                senders.update(notify.pid for notify in conn.notifies(timeout=0.05, stop_after=MAX_NOTIFY_BATCH))
            # PostgreSQL lets any role NOTIFY: a client's function must not make every instance reload.
            changed = bool(senders) and conn.execute(Q.notify_not_only_from_tenants, (list(senders),)
                                                     ).fetchone()[0]
            # Timed by the clock, not by passes: a flood of notifications must not starve the periodic reload.
            if changed or time.monotonic() - last_reload >= reload_seconds:
                self.reload()
                last_reload = time.monotonic()
