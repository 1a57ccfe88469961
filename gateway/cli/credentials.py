"""``flask credentials``: the provider credential vault from the shell, write-only like the API and the portal."""

import json
import sys

import click
from flask.cli import AppGroup

from gateway.admin import credentials
from gateway.errors import MosPayError
from gateway.runtime import runtime

credentials_cli = AppGroup("credentials", help="Provider credentials: sealed at rest, never printed.")


def _run(function, *args):
    try:
        return function(*args)
    except MosPayError as error:
        click.echo(f"error: {json.dumps(error.to_dict()['error'])}", err=True)
        sys.exit(1)


def _key(microservice, service, route):
    return {"microservice": microservice, "service": service, "route": route}


@credentials_cli.command("set")
@click.argument("microservice")
@click.argument("service")
@click.argument("route")
@click.argument("names", nargs=-1, required=True)
@click.option("--app-id", help="Override for this client's route only (default: the service's own).")
def credentials_set(microservice, service, route, names, app_id):
    """Store NAMES for a service (or one client's route): each value is asked for, never echoed (piped: one a line)."""
    values = {name: click.prompt(name, hide_input=True, err=True) for name in names}
    key = _key(microservice, service, route)
    if app_id:
        stored = _run(credentials.set_route_credentials, runtime(), app_id, key, {"values": values}, "cli")
    else:
        stored = _run(credentials.set_service_credentials, runtime(), key, {"values": values}, "cli")
    click.echo(json.dumps(stored, indent=2))


@credentials_cli.command("list")
@click.argument("microservice")
@click.argument("service")
@click.argument("route")
@click.option("--app-id", help="This client's route (its own names and those it inherits).")
def credentials_list(microservice, service, route, app_id):
    """The names stored (never the values) and those the template still misses."""
    key = _key(microservice, service, route)
    listed = _run(credentials.route_credentials, runtime(), app_id, key) if app_id else \
        _run(credentials.service_credentials, runtime(), key)
    click.echo(json.dumps(listed, indent=2))


@credentials_cli.command("reseal")
def credentials_reseal():
    """Seal every provider credential again under the newest of MOSPAY_SEAL_KEYS (key rotation)."""
    click.echo(f"resealed {_run(credentials.reseal_all, runtime())} credential(s); cached provider tokens dropped")
