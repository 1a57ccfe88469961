"""Operators reconcile from the shell: the real `flask` executable, as a user types it."""

import csv
import io
import time

from tests import test_cli
from tests.admin.test_reconciliation import statement
from tests.test_cli import last_json

cli_env, flask_cli = test_cli.cli_env, test_cli.flask_cli  # the real executable on this module's database


def test_a_statement_is_reconciled_listed_and_exported_from_the_shell(flask_cli, integrator, tmp_path):
    microservice = integrator.service["microservice"]
    paid = integrator.pay(integrator.message(f004="1500")).json()
    today = time.strftime("%Y-%m-%d")
    path = tmp_path / "mtn-statement.csv"
    path.write_bytes(statement((today, paid["transaction_ref"], "p", "1400", "RWF", "PAID"),
                               header=("Date", "TxnRef", "Payer", "Amt", "Ccy", "Result")))

    mapped = flask_cli("reconcile", "mapping", microservice, "--reference", "TxnRef", "--amount", "Amt",
                       "--currency", "Ccy", "--status", "Result", "--time", "Date", "--status-word", "PAID=SUCCESS",
                       "--by", "alice")
    assert mapped.returncode == 0, mapped.stderr
    ran = flask_cli("reconcile", "run", microservice, str(path), "--by", "alice")
    assert ran.returncode == 0, ran.stderr
    run = last_json(ran)
    assert run["figures"]["outcomes"]["amount_mismatch"] == 1 and run["file_name"] == "mtn-statement.csv"

    assert f"{run['id']} {microservice}" in flask_cli("reconcile", "runs", "--microservice", microservice).stdout
    rows = list(csv.DictReader(io.StringIO(flask_cli("reconcile", "discrepancies", str(run["id"])).stdout)))
    assert [(r["kind"], r["our_amount"], r["their_amount"]) for r in rows] == [("amount_mismatch", "1500", "1400")]
    again = flask_cli("reconcile", "run", microservice, str(path), "--by", "alice")
    assert last_json(again)["replayed"] is True and last_json(again)["id"] == run["id"]


def test_a_statement_without_the_mapped_columns_is_refused_with_the_reason(flask_cli, integrator, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("when,what\n2026-12-01,1\n")

    refused = flask_cli("reconcile", "run", integrator.service["microservice"], str(path), "--by", "alice")

    assert refused.returncode == 1 and "column 'reference' is not in the header" in refused.stderr


def test_an_alert_rule_is_made_evaluated_and_acknowledged_from_the_shell(flask_cli, integrator, db, tmp_path):
    stale = integrator.pay().json()["transaction_ref"]
    db("UPDATE mospay.transactions SET status = 'UNKNOWN', updated_at = now() - interval '3 hours' "
       "WHERE ref = %s::uuid RETURNING id", (stale,))
    rule = tmp_path / "rule.yaml"
    rule.write_text("name: UNKNOWN over two hours\nkind: unknown_age\nparams: {minutes: 120}\n")

    assert flask_cli("alerts", "create", str(rule), "--by", "alice").returncode == 0
    assert last_json(flask_cli("alerts", "evaluate"))["opened"] == 1
    listed = flask_cli("alerts", "list").stdout
    assert "UNKNOWN over two hours: 1 UNKNOWN payment(s) older than 120 min" in listed
    alert_id = listed.split()[0]
    acknowledged = flask_cli("alerts", "acknowledge", alert_id, "--by", "alice")
    assert last_json(acknowledged)["acknowledged_by"] == "alice"
    assert "on  UNKNOWN over two hours unknown_age" in flask_cli("alerts", "rules").stdout
    db("UPDATE mospay.transactions SET status = 'FAILED' WHERE ref = %s::uuid RETURNING id", (stale,))
    assert last_json(flask_cli("alerts", "evaluate"))["resolved"] == 1
