"""``flask`` commands of day-to-day operations: reconciliation against provider statements, alerts, partitions."""

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.cli import _call, _fail
from gateway.runtime import runtime

reconcile_cli = AppGroup("reconcile", help="Match a provider's statement against the switch's transactions.")


def _dumps(value):
    return json.dumps(value, default=str)


@reconcile_cli.command("mapping")
@click.argument("microservice")
@click.option("--reference", help="The statement's column holding the reference.")
@click.option("--amount", help="… the amount.")
@click.option("--currency", help="… the currency (optional).")
@click.option("--status", help="… the status.")
@click.option("--time", "time_", help="… the date or time (optional; gives the period).")
@click.option("--match-on", type=click.Choice(["ref", "provider_ref", "unique_id"]),
              help="Which of our keys the reference is: our transaction ref, the provider's reference, the f010.")
@click.option("--status-word", multiple=True, metavar="WORD=STATE",
              help="A provider word and the state it means, e.g. PAID=SUCCESS (repeatable).")
@click.option("--by", "actor", default="cli", show_default=True, help="Your user name (the audit log's actor).")
def reconcile_mapping(microservice, reference, amount, currency, status, time_, match_on, status_word, actor):
    """Show a provider's statement columns, or change them (any option given)."""
    from gateway.admin import reconciliation
    rt = runtime()
    current = _call(reconciliation.mapping, rt, microservice)
    given = {"reference": reference, "amount": amount, "currency": currency, "status": status, "time": time_}
    if not any(given.values()) and not match_on and not status_word:
        click.echo(_dumps(current))
        return
    words = dict(word.split("=", 1) for word in status_word if "=" in word)
    if len(words) != len(status_word):
        _fail("--status-word takes WORD=STATE, e.g. PAID=SUCCESS")
    payload = {"columns": {**current["columns"], **{k: v for k, v in given.items() if v}},
               "match_on": match_on or current["match_on"], "statuses": {**current["statuses"], **words}}
    click.echo(_dumps(_call(reconciliation.save_mapping, rt, microservice, payload, actor)))


@reconcile_cli.command("run")
@click.argument("microservice")
@click.argument("statement", type=click.Path(exists=True, dir_okay=False))
@click.option("--from", "date_from", help="First day of the statement (default: its time column's first day).")
@click.option("--to", "date_to", help="Last day, included.")
@click.option("--by", "actor", required=True, help="Your user name: proposals are made in it (another approves).")
def reconcile_run(microservice, statement, date_from, date_to, actor):
    """Reconcile a statement file (CSV) of a provider; the same file again shows the earlier run."""
    from gateway.admin import reconciliation
    path = Path(statement)
    result = _call(reconciliation.run, runtime(), microservice, path.read_bytes(), actor, path.name, date_from,
                   date_to)
    click.echo(_dumps(result))


@reconcile_cli.command("runs")
@click.option("--microservice")
@click.option("--limit", default=20, show_default=True)
def reconcile_runs(microservice, limit):
    """Reconciliation runs, newest first."""
    from gateway.admin import reconciliation
    rows = _call(reconciliation.list_runs, runtime(), microservice, limit)
    if not rows:
        click.echo("No reconciliation runs found.")
    for row in rows:
        figures = row["figures"]
        click.echo(f"{row['id']} {row['microservice']} {row['period_from']}..{row['period_to']} "
                   f"lines={figures.get('lines')} discrepancies={figures.get('discrepancies')} "
                   f"proposals={figures.get('proposals')} by {row['created_by']} {row['file_name'] or ''}".rstrip())


@reconcile_cli.command("discrepancies")
@click.argument("run_id", type=int)
@click.option("--kind", help="Only this outcome (missing_at_provider, amount_mismatch, …).")
def reconcile_discrepancies(run_id, kind):
    """Every discrepancy of a run, as CSV on standard output."""
    from gateway.admin import reconciliation
    for line in _call(reconciliation.discrepancies_csv, runtime(), run_id, kind):
        click.echo(line, nl=False)


alerts_cli = AppGroup("alerts", help="Alert rules and the alerts they raise.")


@alerts_cli.command("evaluate")
def alerts_evaluate():
    """Evaluate every enabled rule now (the worker does it every MOSPAY_ALERT_EVERY_SECONDS)."""
    from gateway.follow_up import alerts
    click.echo(_dumps(_call(alerts.evaluate, runtime())))


@alerts_cli.command("list")
@click.option("--state", type=click.Choice(["open", "resolved"]), default="open", show_default=True)
@click.option("--limit", default=50, show_default=True)
def alerts_list(state, limit):
    """Alerts, newest first."""
    from gateway.follow_up import alerts
    rows = _call(alerts.list_alerts, runtime(), state, limit)
    if not rows:
        click.echo(f"No {state} alerts.")
    for row in rows:
        acknowledged = f" (acknowledged by {row['acknowledged_by']})" if row["acknowledged_by"] else ""
        click.echo(f"{row['id']} {row['state']} {row['rule']}: {row['summary']}{acknowledged}")


@alerts_cli.command("acknowledge")
@click.argument("alert_id", type=int)
@click.option("--by", "actor", required=True, help="Your user name (the audit log's actor).")
def alerts_acknowledge(alert_id, actor):
    """Say you are on an alert (audited)."""
    from gateway.follow_up import alerts
    click.echo(_dumps(_call(alerts.acknowledge, runtime(), alert_id, actor)))


@alerts_cli.command("rules")
def alerts_rules():
    """Every alert rule."""
    from gateway.admin import alert_rules
    for rule in _call(alert_rules.list_rules, runtime()):
        click.echo(f"{rule['id']} {'on ' if rule['enabled'] else 'off'} {rule['name']} {rule['kind']} "
                   f"{json.dumps(rule['params'])} open={rule['open_alerts']}")


@alerts_cli.command("create")
@click.argument("definition", type=click.File())
@click.option("--by", "actor", default="cli", show_default=True, help="Your user name (the audit log's actor).")
def alerts_create(definition, actor):
    """Create a rule from a YAML or JSON file (the admin API's fields); prints the webhook secret once."""
    import yaml

    from gateway.admin import alert_rules
    click.echo(_dumps(_call(alert_rules.create_rule, runtime(), yaml.safe_load(definition) or {}, actor)))


partitions_cli = AppGroup("partitions", help="Time partitions of the large tables and their retention.")


@partitions_cli.command("status")
def partitions_status():
    """Every partition: table, name, range, estimated rows, size. A DEFAULT partition's rows are counted (an
    estimate may say 0), and a warning goes to stderr when one holds any: maintenance is behind."""
    from gateway.follow_up import partitions
    for row in partitions.status(runtime()):
        span = "DEFAULT" if row["is_default"] else f"{row['lower_bound']} .. {row['upper_bound']}"
        rows = f"~{row['rows_estimate']} rows" if not row["is_default"] else _counted(row["default_rows"])
        click.echo(f"{row['parent']}\t{row['partition']}\t{span}\t{rows}\t{row['bytes']} bytes")
        if row["default_rows"]:
            click.echo(f"warning: {row['partition']} holds {_counted(row['default_rows'])}: rows outside every "
                       "partition's range (maintenance is behind; `flask partitions maintain` moves them)", err=True)


def _counted(rows):
    from gateway.follow_up.partitions import DEFAULT_ROWS_CAP
    if rows is None:
        return "? rows (a maintenance run holds it)"
    return f"{rows}{'+' if rows >= DEFAULT_ROWS_CAP else ''} rows"


@partitions_cli.command("maintain")
def partitions_maintain():
    """Run the worker's partition maintenance once: partitions ahead, DEFAULT rows moved, retention applied."""
    from gateway.follow_up import partitions
    click.echo(_dumps(partitions.maintain(runtime())))


def init_app(app):
    """Attach the operations command groups to ``app``."""
    app.cli.add_command(reconcile_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(partitions_cli)
