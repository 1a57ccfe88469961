"""An installation with months of payments upgrades to the partitioned tables (migrations 0070-0071) and loses
nothing: every row stays, every (client, unique id) keeps its key, a replay is still refused and answered from
the stored row, and new payments go through end to end.

This module's database is built at the migration before partitioning, filled the way the old schema was, and
only then brought up to date the way a deployment does it (``bootstrap.prepare_database``).
"""

import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from gateway import bootstrap
from gateway.db import Q
from gateway.db.migrations import available_migrations, migrate
from gateway.runtime import Runtime
from tests.conftest import _create_database, _drop_database

DAYS_AGO = (40, 12, 3, 0)  # the old rows' ages: the historic partition must hold them all


def _fill_old_schema(url):
    """A client, a route and a payment per age with its API log, provider callback, jobs and audit row."""
    with psycopg.connect(url, autocommit=True) as conn:
        client = conn.execute("INSERT INTO mospay.clients (app_id, name, username, password_hash) "
                              "VALUES ('oldapp', 'Old client', 'old', 'x') RETURNING id").fetchone()[0]
        service = conn.execute("INSERT INTO mospay.services (microservice, service, route, url, timeout_ms, template) "
                               "VALUES ('oldms', 'collection', 'payment', 'http://127.0.0.1:9/pay', 1000, "
                               "'generic_json') RETURNING id").fetchone()[0]
        route = conn.execute("INSERT INTO mospay.client_services (client_id, service_id, request_function, "
                             "response_function) VALUES (%s, %s, 'oldapp_oldms_payment', "
                             "'RESPONSE_oldapp_oldms_payment') RETURNING id", (client, service)).fetchone()[0]
        for days in DAYS_AGO:
            at = f"now() - interval '{days} days'"
            tx = conn.execute(
                "INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, "
                f"request, answer, http_status, created_at, updated_at) VALUES (%s, %s, %s, '\\x01', 'SUCCESS', "
                f"%s, %s, 200, {at}, {at}) RETURNING id",
                (client, route, f"old-{days}", Jsonb({"f010": f"old-{days}"}),
                 Jsonb({"status": "SUCCESS", "code": "OK", "message": f"paid {days} days ago"}))).fetchone()[0]
            conn.execute("INSERT INTO mospay.api_logs (transaction_id, client_id, method, path, http_status, "
                         f"duration_ms, created_at) VALUES (%s, %s, 'POST', '/api/v1/payment/process', 200, 5, {at})",
                         (tx, client))
            conn.execute("INSERT INTO mospay.provider_callbacks (client_service_id, transaction_id, outcome, "
                         f"created_at) VALUES (%s, %s, 'applied', {at})", (route, tx))
            conn.execute("INSERT INTO mospay.jobs (kind, transaction_id, client_id, state, created_at) "
                         f"VALUES ('client_callback', %s, %s, 'done', {at})", (tx, client))
            conn.execute(f"INSERT INTO mospay.audit_log (actor, action, target, created_at) "
                         f"VALUES ('alice', 'client.update', 'oldapp', {at})")
        return client


@pytest.fixture(scope="module")
def database_url(server_url, tmp_path_factory):
    """A database at migration 0060 with old rows, then upgraded and seeded as a deployment does."""
    before = tmp_path_factory.mktemp("migrations-before")
    for version, _, path in available_migrations():
        if version < 70:
            (before / path.name).write_text(path.read_text())
    name = f"mospay_upgrade_{uuid.uuid4().hex[:10]}"
    url = _create_database(server_url, name)
    migrate(url, before)
    _fill_old_schema(url)
    yield url
    _drop_database(server_url, name)


@pytest.fixture(scope="module")
def upgraded(database_url, config):
    """Upgrade (0070 on) and seed the first admin, before the module's app starts."""
    bootstrap.prepare_database(config)
    rt = Runtime(config)
    bootstrap.seed(rt)
    rt.stop()
    return database_url


@pytest.fixture(scope="module")
def app(upgraded, config):
    from gateway import create_app
    app = create_app(config)
    yield app
    app.extensions["mospay"].stop()


def _owner(url, query, params=None):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def test_every_old_row_is_kept_in_one_historic_partition(upgraded):
    for table in ("transactions", "api_logs", "provider_callbacks", "audit_log"):
        counted = _owner(upgraded, f"SELECT count(*), count(*) FILTER (WHERE tableoid = 'mospay.{table}_history'"
                                   f"::regclass) FROM mospay.{table}")
        assert counted == [(len(DAYS_AGO), len(DAYS_AGO))], table
    assert _owner(upgraded, "SELECT count(*) FROM mospay.jobs") == [(len(DAYS_AGO),)]
    kinds = dict(_owner(upgraded, "SELECT relname, relkind FROM pg_class WHERE relname IN "
                                  "('transactions', 'transactions_history', 'transactions_default')"))
    assert kinds == {"transactions": "p", "transactions_history": "r", "transactions_default": "r"}


def test_every_old_payment_has_its_key(upgraded):
    keys = _owner(upgraded, "SELECT k.unique_id FROM mospay.payment_keys k JOIN mospay.transactions t "
                            "ON t.id = k.transaction_id AND t.created_at = k.created_at ORDER BY 1")
    assert [k for (k,) in keys] == sorted(f"old-{days}" for days in DAYS_AGO)


def test_a_replayed_old_unique_id_is_refused_and_answered_from_the_stored_row(rt):
    client = rt.db.fetch_one("SELECT id FROM mospay.clients WHERE app_id = 'oldapp'")["id"]
    route = rt.db.fetch_one("SELECT id FROM mospay.client_services WHERE client_id = %s", (client,))["id"]
    params = {"client_id": client, "client_service_id": route, "unique_id": "old-40", "payload_hash": b"\x01",
              "request": Jsonb({}), "currency": "RWF", "lease_owner": "test", "lease_seconds": 60}
    with rt.db.transaction() as conn:
        assert conn.execute(Q.claim_transaction, params).fetchone() is None
        stored = conn.execute(Q.find_claimed_transaction, params).fetchone()
    assert stored["status"] == "SUCCESS" and stored["answer"]["message"] == "paid 40 days ago"


def test_new_payments_go_through_and_replay_after_the_upgrade(integrator, db):
    message = integrator.message()
    first = integrator.pay(message)
    again = integrator.pay(message)

    assert first.status_code == 200 and first.json()["status"] == "SUCCESS"
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    where = db("SELECT t.tableoid::regclass::text AS part FROM mospay.transactions t JOIN mospay.payment_keys k "
               "ON k.transaction_id = t.id AND k.created_at = t.created_at WHERE k.unique_id = %s", (message["f010"],))
    assert len(where) == 1


def test_the_sequence_survives_the_old_table(upgraded):
    owned = _owner(upgraded, "SELECT d.refobjid::regclass::text FROM pg_depend d "
                             "WHERE d.objid = 'mospay.transactions_id_seq'::regclass AND d.deptype = 'a'")
    assert owned == [("mospay.transactions",)]


def test_maintenance_and_status_read_the_historic_partition_and_keep_its_keys(rt, tmp_path, monkeypatch):
    from gateway.follow_up import partitions

    history = [p for p in partitions.status(rt) if p["partition"] == "transactions_history"]
    assert len(history) == 1 and history[0]["lower_bound"] is None  # from MINVALUE: no Python datetime for it
    monkeypatch.setattr(rt.config, "RETAIN_TRANSACTIONS_DAYS", 1)
    report = partitions.maintain(rt)

    assert not report["failed"]
    # Its newest row is days old but its range reaches tomorrow: it stays, and so does every key it holds.
    assert "transactions_history" in {p["partition"] for p in partitions.status(rt)}
    assert report["keys_deleted"] == 0
    assert rt.db.fetch_one("SELECT count(*) AS n FROM mospay.payment_keys WHERE unique_id LIKE 'old-%%'")["n"] \
        == len(DAYS_AGO)
