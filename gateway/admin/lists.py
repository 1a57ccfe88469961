"""The portal's and admin API's lists as composed queries: each filter a clause only when it is set.

``transactions``, ``api_logs``, ``audit_log`` and ``deliveries`` each turn cleaned filters into a SQLAlchemy
Core ``Select`` (unordered, unpaged); ``keyset.fetch_page`` pages it newest first and the CSV exports stream
it whole. A client or service filter becomes a lookup of ids (a scalar subquery the planner runs once), so
every combination reads one index of ``transactions`` (migration 0040) and no join runs before the page is
cut. Values are bound parameters.
"""

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Date, Text, bindparam, cast, false, literal, or_, select

from gateway.db import compose
from gateway.db.tables import api_logs, audit_log, client_services, clients, jobs, services, transactions

T, L, A, J = transactions, api_logs, audit_log, jobs
_CLIENT, _CS = clients.alias("c"), client_services.alias("cs")
_SERVICE = services.alias("s")


def _on_or_after(column, day):
    return column >= bindparam(None, day, Date)


def _before_day_after(column, day):
    return column < bindparam(None, day + dt.timedelta(days=1), Date)


def _dates(query, column, filters):
    if filters.get("date_from"):
        query = query.where(_on_or_after(column, filters["date_from"]))
    if filters.get("date_to"):
        query = query.where(_before_day_after(column, filters["date_to"]))
    return query


def client_id_of(app_id):
    """The id of the client ``app_id`` as a scalar subquery (NULL, matching nothing, when there is none)."""
    return select(clients.c.id).where(clients.c.app_id == app_id).scalar_subquery()


def route_ids_of(service):
    """The client-service ids of a ``microservice/service/route`` label."""
    label = services.c.microservice + "/" + services.c.service + "/" + services.c.route
    return (select(client_services.c.id).join(services, services.c.id == client_services.c.service_id)
            .where(label == literal(service, Text)))


def with_route_ids(db, filters):
    """``filters`` with the service filter's route ids looked up: as values, the planner estimates how many
    rows they match (as a subquery it cannot, and may sort every row of the service to cut one page)."""
    if not filters.get("service"):
        return filters
    return {**filters, "route_ids": [row["id"] for row in compose.fetch_all(db, route_ids_of(filters["service"]))]}


def transactions_query(filters):
    """Transactions matching ``reports.transaction_filters``, with what a list row shows."""
    query = (select(T.c.id, cast(T.c.ref, Text).label("ref"), T.c.unique_id, T.c.status, T.c.http_status,
                    T.c.error_code, T.c.answer["code"].astext.label("answer_code"), T.c.created_at,
                    T.c.completed_at, _CLIENT.c.app_id, _CLIENT.c.name.label("client_name"),
                    _SERVICE.c.microservice, _SERVICE.c.service, _SERVICE.c.route,
                    T.c.request["f004"].astext.label("amount"), T.c.currency)
             .select_from(T.join(_CLIENT, _CLIENT.c.id == T.c.client_id)
                          .join(_CS, _CS.c.id == T.c.client_service_id)
                          .join(_SERVICE, _SERVICE.c.id == _CS.c.service_id)))
    if filters.get("app_id"):
        query = query.where(T.c.client_id == client_id_of(filters["app_id"]))
    if filters.get("route_ids") is not None:  # the service filter, resolved (``with_route_ids``)
        query = query.where(T.c.client_service_id.in_(filters["route_ids"]))
    elif filters.get("service"):
        query = query.where(T.c.client_service_id.in_(route_ids_of(filters["service"])))
    if filters.get("status"):
        query = query.where(T.c.status == filters["status"])
    if filters.get("unique_id"):
        query = query.where(T.c.unique_id == filters["unique_id"])
    if filters.get("ref"):
        # a malformed reference matches nothing (it is no reference), rather than every row
        ref = filters["ref"]
        query = query.where(T.c.ref == ref if isinstance(ref, uuid.UUID) else false())
    return _dates(query, T.c.created_at, filters)


def api_logs_query(filters):
    """API log rows matching ``reports.api_log_filters`` (and ``transaction_id``), with their payment.

    With ``transaction_id``, ``transaction_created_at`` (the payment's ``created_at``, when the caller has its row)
    keeps both tables' scans to the partitions that can hold them: the payment's one, and the logs' from its week on.
    """
    created_at = filters.get("transaction_created_at") if filters.get("transaction_id") is not None else None

    # The payment's columns come from correlated subqueries, not a join: transactions is partitioned (migration
    # 0071), so its id is no longer unique on its own and the planner could not drop an outer join to it from the
    # bounded count (keyset.fetch_page), which then hashed the whole table. Its row was created before its log.
    def of_payment(column):
        found = select(column).where(T.c.id == L.c.transaction_id, T.c.created_at <= L.c.created_at)
        if created_at is not None:
            found = found.where(T.c.created_at == bindparam(None, created_at, T.c.created_at.type))
        return found.limit(1).scalar_subquery()

    query = (select(L.c.id, L.c.method, L.c.path, L.c.http_status, L.c.error_code, L.c.duration_ms,
                    L.c.remote_addr, L.c.created_at, _CLIENT.c.app_id,
                    of_payment(cast(T.c.ref, Text)).label("transaction_ref"), of_payment(T.c.status).label("status"),
                    of_payment(T.c.answer["code"].astext).label("answer_code"))
             .select_from(L.outerjoin(_CLIENT, _CLIENT.c.id == L.c.client_id)))
    if filters.get("app_id"):
        query = query.where(L.c.client_id == client_id_of(filters["app_id"]))
    if filters.get("http_status") is not None:
        query = query.where(L.c.http_status == filters["http_status"])
    if filters.get("transaction_id") is not None:
        query = query.where(L.c.transaction_id == bindparam(None, filters["transaction_id"], BigInteger))
    if created_at is not None:  # a payment's logs are written with it or after it, never before
        query = query.where(L.c.created_at >= bindparam(None, created_at, L.c.created_at.type))
    return _dates(query, L.c.created_at, filters)


def audit_query(filters):
    """Audit log rows matching ``reports.audit_filters`` (an action matches itself and its sub-actions)."""
    query = select(A.c.id, A.c.actor, A.c.action, A.c.target, A.c.before, A.c.after, A.c.created_at)
    if filters.get("actor"):
        query = query.where(A.c.actor == filters["actor"])
    if filters.get("action"):
        action = filters["action"]
        query = query.where(or_(A.c.action == action, A.c.action.startswith(action + ".", autoescape=True)))
    return _dates(query, A.c.created_at, filters)


# What a row of each job list shows: a delivery's status is the one it tells the client; a follow-up's, the
# payment's current one.
_JOB_COLUMNS = {
    "client_callback": (J.c.payload["status"].astext.label("status"), J.c.last_status, J.c.completed_at),
    "unknown_outcome": (T.c.status, J.c.payload["policy"].astext.label("policy")),
}


def jobs_query(kind, app_id=None, state=None):
    """Jobs of ``kind`` (client callbacks, unknown-outcome follow-ups) with their payment and client."""
    query = (select(J.c.id, _CLIENT.c.app_id, cast(T.c.ref, Text).label("transaction_ref"), T.c.unique_id,
                    *_JOB_COLUMNS[kind], J.c.state, J.c.attempts, J.c.last_error, J.c.run_at, J.c.created_at,
                    J.c.updated_at)
             .select_from(J.join(_CLIENT, _CLIENT.c.id == J.c.client_id).join(T, T.c.id == J.c.transaction_id))
             .where(J.c.kind == kind))
    if app_id:
        query = query.where(J.c.client_id == client_id_of(app_id))
    if state:
        query = query.where(J.c.state == state)
    return query

