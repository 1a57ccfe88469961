"""The worker keeps the large tables' time partitions (gateway/follow_up/partitions.py): made ahead, DEFAULT rows
moved out, old ones archived and dropped whole, and the at-most-once guarantee across all of them."""

import csv
import datetime as dt
import gzip
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from gateway.admin import lists, reports
from gateway.db import Q, compose
from gateway.follow_up import partitions
from tests import test_cli
from tests.follow_up.test_provider_callbacks import notify
from tests.follow_up.test_provider_callbacks import pending as pending_answer
from tests.test_cli import last_json

cli_env, flask_cli = test_cli.cli_env, test_cli.flask_cli  # the real executable on this module's database
NOW = dt.datetime.now(dt.UTC)


def _age(db, unique_id, days):
    """Move a payment (its row, key and API log) ``days`` back, as if it had been made then."""
    db("UPDATE mospay.payment_keys SET created_at = created_at - make_interval(days => %s) WHERE unique_id = %s "
       "RETURNING 1", (days, unique_id))
    db("UPDATE mospay.api_logs SET created_at = created_at - make_interval(days => %s) WHERE transaction_id = "
       "(SELECT transaction_id FROM mospay.payment_keys WHERE unique_id = %s) RETURNING 1", (days, unique_id))
    return db("UPDATE mospay.transactions SET created_at = created_at - make_interval(days => %s) "
              "WHERE unique_id = %s RETURNING tableoid::regclass::text AS part", (days, unique_id))[0]["part"]


def _bounds(rt, table):
    return [row for row in partitions.status(rt) if row["parent"] == table and not row["is_default"]]


def test_maintenance_makes_partitions_ahead_once(rt):
    partitions.maintain(rt)
    again = partitions.maintain(rt)

    assert again["made"] == 0
    for table in partitions.TABLES:
        ranges = _bounds(rt, table)
        assert any(r["lower_bound"] <= NOW < r["upper_bound"] for r in ranges), table
        assert max(r["upper_bound"] for r in ranges) >= NOW + dt.timedelta(days=rt.config.PARTITION_AHEAD_DAYS)
        assert all(a["upper_bound"] <= b["lower_bound"] for a, b in zip(ranges, ranges[1:], strict=False)), table


def test_a_unique_id_whose_payment_sits_in_an_old_partition_is_still_replayed_not_paid_again(integrator, db, rt):
    partitions.ensure(rt, "transactions", NOW - dt.timedelta(days=70), NOW)
    message = integrator.message()
    first = integrator.pay(message).json()
    part = _age(db, message["f010"], 60)
    assert part.startswith("mospay.transactions_p")  # a partition of its own, two months back

    replayed = integrator.pay(message)
    modified = integrator.pay({**message, "f004": "999"})

    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == first
    assert modified.status_code == 409 and modified.json()["error"]["code"] == "MODIFIED_REQUEST"
    assert db("SELECT count(*) AS n FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))[0]["n"] == 1


def test_retention_archives_then_drops_only_whole_old_partitions_and_their_keys(integrator, db, rt, tmp_path,
                                                                               monkeypatch):
    for table in ("transactions", "api_logs"):
        partitions.ensure(rt, table, NOW - dt.timedelta(days=70), NOW)
    old, recent = integrator.message(), integrator.message()
    integrator.pay(old)
    integrator.pay(recent)
    _age(db, old["f010"], 50)
    _age(db, recent["f010"], 29)
    monkeypatch.setattr(rt.config, "RETAIN_TRANSACTIONS_DAYS", 30)
    monkeypatch.setattr(rt.config, "RETAIN_API_LOGS_DAYS", 30)
    monkeypatch.setattr(rt.config, "ARCHIVE_DIR", str(tmp_path / "archive"))

    report = partitions.maintain(rt)

    cutoff = NOW - dt.timedelta(days=30)
    assert report["dropped"] and all(d["upper_bound"] <= cutoff for d in report["dropped"])
    assert all(r["upper_bound"] > cutoff - dt.timedelta(minutes=1) for r in _bounds(rt, "transactions"))
    left = {r["unique_id"] for r in db("SELECT unique_id FROM mospay.transactions WHERE unique_id IN (%s, %s)",
                                       (old["f010"], recent["f010"]))}
    keys = {r["unique_id"] for r in db("SELECT unique_id FROM mospay.payment_keys WHERE unique_id IN (%s, %s)",
                                       (old["f010"], recent["f010"]))}
    assert left == keys == {recent["f010"]} and report["keys_deleted"] >= 1
    archived = {}
    for path in (tmp_path / "archive").glob("transactions_*.csv.gz"):
        with gzip.open(path, "rt", newline="") as file:
            archived.update({row["unique_id"]: row for row in csv.DictReader(io.StringIO(file.read()))})
    assert archived[old["f010"]]["status"] == "SUCCESS" and recent["f010"] not in archived
    assert not list((tmp_path / "archive").glob(".*.tmp"))
    assert list((tmp_path / "archive").glob("api_logs_*.csv.gz"))
    # Past the replay window the unique id is free again: a new payment, not a replay.
    again = integrator.pay(old)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers


@pytest.mark.parametrize("call, refusal", [
    ("SELECT mospay.drop_partition('clients', 'clients', 1)", "not a partitioned table"),
    ("SELECT mospay.drop_partition('transactions', 'clients', 1)", "not a range partition"),
    ("SELECT mospay.drop_partition('transactions', 'api_logs_default', 1)", "not a range partition"),
    ("SELECT mospay.drop_partition('transactions', 'transactions_default', 1)", "not a range partition"),
    ("SELECT mospay.drop_partition('transactions', 'transactions_p20000103\"; DROP TABLE mospay.clients; --', 1)",
     "not a range partition"),
    ("SELECT mospay.drop_partition('transactions', (SELECT partition FROM mospay.partition_bounds() "
     "WHERE parent = 'transactions' AND upper_bound > now() LIMIT 1), 1)", "reaches into the last"),
    ("SELECT mospay.drop_partition('transactions', (SELECT partition FROM mospay.partition_bounds() "
     "WHERE parent = 'transactions' AND NOT is_default LIMIT 1), 0)", "at least 1 day"),
    ("SELECT mospay.ensure_partitions('clients', now(), now() + interval '1 day', 7)", "not a partitioned table"),
    ("SELECT mospay.ensure_partitions('transactions''; DROP TABLE mospay.clients; --', now(), now(), 7)",
     "not a partitioned table"),
    ("SELECT mospay.ensure_partitions('transactions', now(), now() + interval '1 day', 0)", "1 to 366 days"),
    ("SELECT mospay.ensure_partitions('transactions', now(), now() + interval '20 years', 7)", "refused"),
    ("ALTER TABLE mospay.transactions DETACH PARTITION mospay.transactions_default", "must be owner"),
    ("CREATE TABLE mospay.transactions_p29990101 PARTITION OF mospay.transactions "
     "FOR VALUES FROM ('2999-01-01') TO ('2999-01-08')", "permission denied"),
])
def test_the_app_role_gets_nothing_from_the_partition_helpers_but_their_one_job(rt, call, refusal):
    with rt.db.connection() as conn:  # the switch's own serving role, as an attacker holding it would be
        with pytest.raises(psycopg.Error, match=refusal):
            conn.execute(call)
        assert conn.execute("SELECT to_regclass('mospay.clients') IS NOT NULL AS kept").fetchone()["kept"]


def test_partitions_are_listed_and_maintained_from_the_shell(flask_cli):
    maintained = flask_cli("partitions", "maintain")
    listed = flask_cli("partitions", "status")

    assert maintained.returncode == 0, maintained.stderr
    assert set(last_json(maintained)) >= {"made", "dropped", "keys_deleted", "jobs_deleted"}
    assert listed.returncode == 0, listed.stderr
    assert "transactions\ttransactions_default\tDEFAULT" in listed.stdout and "api_logs_p" in listed.stdout


def test_a_payment_lands_in_the_default_partition_when_none_covers_now_and_moves_out_later(integrator, db, rt):
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner:  # the worker was down for weeks
        for table in ("transactions", "api_logs"):
            for row in _bounds(rt, table):
                if row["upper_bound"] > NOW - dt.timedelta(days=1):
                    owner.execute(f"ALTER TABLE mospay.{table} DETACH PARTITION mospay.{row['partition']}")
                    owner.execute(f"DROP TABLE mospay.{row['partition']}")
    message = integrator.message()

    paid = integrator.pay(message)
    landed = db("SELECT tableoid::regclass::text AS part FROM mospay.transactions WHERE unique_id = %s",
                (message["f010"],))[0]["part"]
    report = partitions.maintain(rt)
    moved = db("SELECT tableoid::regclass::text AS part FROM mospay.transactions WHERE unique_id = %s",
               (message["f010"],))[0]["part"]

    assert paid.status_code == 200 and landed == "mospay.transactions_default"
    assert report["made"] >= 2 and moved.startswith("mospay.transactions_p")
    assert db("SELECT count(*) AS n FROM mospay.transactions_default")[0]["n"] == 0
    assert integrator.pay(message).headers["Idempotent-Replayed"] == "true"


def test_retention_keeps_a_partition_while_it_holds_an_open_payment_and_does_not_archive_it(
        integrator, db, rt, monkeypatch, tmp_path):
    partitions.ensure(rt, "transactions", NOW - dt.timedelta(days=70), NOW)
    message = integrator.message()
    integrator.pay(message)
    part = _age(db, message["f010"], 50).removeprefix("mospay.")
    db("UPDATE mospay.transactions SET status = 'UNKNOWN' WHERE unique_id = %s RETURNING 1", (message["f010"],))
    monkeypatch.setattr(rt.config, "RETAIN_TRANSACTIONS_DAYS", 30)
    monkeypatch.setattr(rt.config, "ARCHIVE_DIR", str(tmp_path / "archive"))

    runs = [partitions.maintain(rt), partitions.maintain(rt)]  # the worker's hourly runs

    for report in runs:
        assert part in report["kept"] and part not in {d["partition"] for d in report["dropped"]}
    # Not archived either: a partition kept for months is not written out again (a large file) every hour.
    assert not list((tmp_path / "archive").glob(f"*{part}*"))
    # Still there for its operator, and its unique id is still answered from it, not paid again.
    assert db("SELECT status FROM mospay.transactions WHERE unique_id = %s", (message["f010"],)) == \
        [{"status": "UNKNOWN"}]
    assert integrator.pay(message).headers.get("Idempotent-Replayed") == "true"


def test_archives_are_readable_by_the_switch_s_user_only(integrator, db, rt, tmp_path, monkeypatch):
    import stat

    partitions.ensure(rt, "transactions", NOW - dt.timedelta(days=70), NOW)
    message = integrator.message()
    integrator.pay(message)
    _age(db, message["f010"], 50)
    monkeypatch.setattr(rt.config, "RETAIN_TRANSACTIONS_DAYS", 30)
    monkeypatch.setattr(rt.config, "ARCHIVE_DIR", str(tmp_path / "archive"))

    partitions.maintain(rt)

    files = list((tmp_path / "archive").glob("transactions_*.csv.gz"))
    assert files
    assert stat.S_IMODE((tmp_path / "archive").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_two_maintenance_runs_never_overlap(rt):
    with rt.db.connection() as holder:  # another worker's run, in progress
        holder.execute("SELECT pg_advisory_lock(7340071)")
        try:
            assert partitions.maintain(rt)["skipped"]
        finally:
            holder.execute("SELECT pg_advisory_unlock(7340071)")
    assert "skipped" not in partitions.maintain(rt)


def _wait_for_a_lock_wait(rt, timeout=10):
    """Until some backend waits on a lock with a FOR UPDATE lookup (the callback's), or the timeout."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            if watcher.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE '%%FOR UPDATE%%'").fetchone():
                return True
            time.sleep(0.02)
    return False


def test_a_callback_finds_its_payment_while_maintenance_moves_it_out_of_the_default_partition(
        base_url, integrator, downstream, db, rt):
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner:  # the worker was down: no partition
        for row in _bounds(rt, "transactions"):
            if row["upper_bound"] > NOW - dt.timedelta(days=1):
                owner.execute(f"ALTER TABLE mospay.transactions DETACH PARTITION mospay.{row['partition']}")
                owner.execute(f"DROP TABLE mospay.{row['partition']}")
    downstream.behaviour = pending_answer
    payment = integrator.pay().json()
    assert db("SELECT tableoid::regclass::text AS part FROM mospay.transactions WHERE ref = %s::uuid",
              (payment["transaction_ref"],)) == [{"part": "mospay.transactions_default"}]

    with psycopg.connect(rt.config.DATABASE_URL) as maintenance, ThreadPoolExecutor(1) as provider:
        # The worker is back: its move of the DEFAULT rows into a new partition is done but not yet committed
        # when the provider's callback arrives and looks the payment up by its reference. The lookup's plan knows
        # the partitions of before the move; it waits for the DEFAULT partition, then finds the row deleted there.
        maintenance.execute("SELECT mospay.ensure_partitions('transactions', now() - interval '1 day', "
                            "now() + interval '14 days', 7)")
        answered = provider.submit(notify, base_url, integrator, {
            "transaction_ref": payment["transaction_ref"], "status": "SUCCESS", "code": "PAID"})
        assert _wait_for_a_lock_wait(rt)
        maintenance.commit()
        response = answered.result(timeout=10)

    assert response.status_code == 200 and response.json()["outcome"] == "applied", response.text
    assert db("SELECT status, tableoid::regclass::text AS part FROM mospay.transactions WHERE ref = %s::uuid",
              (payment["transaction_ref"],))[0]["part"].startswith("mospay.transactions_p")
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (payment["transaction_ref"],)) == \
        [{"status": "SUCCESS"}]


def _default_rows_metric(base_url, table):
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    return float(re.search(rf'^mospay_partition_default_rows{{table="{table}"}} (\S+)$', text, re.M).group(1))


def test_rows_in_a_default_partition_show_in_the_metrics_and_the_status_until_maintenance_moves_them(
        base_url, db, rt, flask_cli):
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner:  # the worker was down for weeks
        for row in _bounds(rt, "audit_log"):
            if row["upper_bound"] > NOW - dt.timedelta(days=1):
                owner.execute(f"ALTER TABLE mospay.audit_log DETACH PARTITION mospay.{row['partition']}")
                owner.execute(f"DROP TABLE mospay.{row['partition']}")
    assert _default_rows_metric(base_url, "audit_log") == 0
    for n in range(3):  # an operator's changes meanwhile
        db("INSERT INTO mospay.audit_log (actor, action, target) VALUES ('ops', 'client.update', %s) RETURNING 1",
           (f"client:{n}",))

    behind = _default_rows_metric(base_url, "audit_log")
    listed = flask_cli("partitions", "status")
    partitions.maintain(rt)
    caught_up = _default_rows_metric(base_url, "audit_log")

    assert behind == 3 and _default_rows_metric(base_url, "transactions") == 0
    assert "audit_log\taudit_log_default\tDEFAULT\t3 rows" in listed.stdout
    assert "audit_log_default holds 3 rows" in listed.stderr and "maintenance is behind" in listed.stderr
    assert caught_up == 0


def _scanned(rt, sql, params):
    """The partitions a statement's plan reads (EXPLAIN, not run): pruned ones are not in it."""
    with rt.db.connection() as conn:
        plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()["QUERY PLAN"]
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        found.add(node.get("Relation Name"))
        nodes.extend(node.get("Plans", []))
    return found - {None}


def test_the_payment_page_reads_only_the_partitions_that_can_hold_its_logs_and_later_payments(integrator, db, rt):
    for table in ("transactions", "api_logs"):
        partitions.ensure(rt, table, NOW - dt.timedelta(days=70), NOW)
    original = integrator.message()
    integrator.pay(original)
    part = _age(db, original["f010"], 50).removeprefix("mospay.")
    refund = integrator.message(f009=original["f010"])  # a later payment naming it, today
    integrator.pay(refund)
    ref = db("SELECT ref::text FROM mospay.transactions WHERE unique_id = %s", (original["f010"],))[0]["ref"]

    page = reports.transaction(rt, ref)

    assert [log["transaction_ref"] for log in page["api_logs"]] == [ref]
    assert [related["unique_id"] for related in page["related"]] == [refund["f010"]]
    older = {r["partition"] for table in ("transactions", "api_logs") for r in _bounds(rt, table)
             if r["upper_bound"] <= page["created_at"]}
    assert older  # partitions the page has no reason to read
    logs = _scanned(rt, *compose.compiled(lists.api_logs_query(
        {"transaction_id": page["id"], "transaction_created_at": page["created_at"]})))
    assert not logs & older and {p for p in logs if p.startswith("transactions")} == {part}
    related = _scanned(rt, Q.report_related_transactions, {
        "client_id": page["client_id"], "id": page["id"], "created_at": page["created_at"],
        "unique_id": page["unique_id"], "provider_ref": page["provider_ref"]})
    assert part in related and not related & older


def test_metrics_are_served_at_once_while_maintenance_holds_a_default_partition(base_url, rt):
    before = _default_rows_metric(base_url, "api_logs")
    with psycopg.connect(rt.config.DATABASE_URL) as maintenance:  # moving a large DEFAULT partition's rows
        maintenance.execute("LOCK TABLE mospay.api_logs_default IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        during = _default_rows_metric(base_url, "api_logs")
        waited = time.monotonic() - started
        maintenance.rollback()

    assert waited < 2 and during == before  # the last count stands; the scrape does not queue behind the move
