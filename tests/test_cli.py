"""Operators script everything with `flask`: each test runs the real executable, as a user types it.

`flask --app app <command>` in the repository root, on the test database and routes directory.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.factories import DEFAULT_FIELDS, Integrator, unique_name
from tests.servers import ROOT, clean_env

FLASK = Path(sys.executable).with_name("flask")


@pytest.fixture(scope="module")
def cli_env(config):
    return clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_ROUTES_DIR=config.ROUTES_DIR, MOSPAY_DEMO=0,
                     MOSPAY_BCRYPT_ROUNDS=4, MOSPAY_REGISTRY_LISTEN=0, MOSPAY_LOG_JSON=0, LOG_LEVEL="WARNING")


@pytest.fixture
def flask_cli(cli_env):
    """``flask_cli("clients", "create", …)`` → the finished process (text stdout and stderr)."""
    def run(*args, stdin=None):
        # A session of its own: no terminal, so a password prompt reads stdin as a pipe would feed it.
        return subprocess.run([str(FLASK), "--app", "app", *args], cwd=ROOT, env=cli_env, input=stdin,
                              capture_output=True, text=True, timeout=120, start_new_session=True)
    return run


@pytest.fixture
def route(admin, downstream, base_url):
    """A fresh client (with a unique name) assigned a fresh generic_json service."""
    client = admin.create_client(name=unique_name("CLI Client "))
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def last_json(process):
    return json.loads(process.stdout.strip().splitlines()[-1])


def documented_commands():
    """Every ``flask --app app <group> <command>`` the README shows, as (group, command)."""
    text = (ROOT / "README.md").read_text()
    found = re.findall(r"flask --app app ([a-z][a-z-]*)(?: ([a-z][a-z-]*(?:\|[a-z-]+)*))?", text)
    return sorted({(group, sub) for group, subs in found for sub in (subs.split("|") if subs else [""])})


def test_every_command_the_readme_shows_exists(flask_cli):
    groups = {}
    for group, sub in documented_commands():
        groups.setdefault(group, set()).add(sub)
    assert {"validate", "apply"} <= groups["route-config"]  # the README names the route commands by these
    for group, subs in groups.items():
        shown = flask_cli(group, "--help")
        assert shown.returncode == 0, (group, shown.stderr)
        listed = set(re.findall(r"^  ([a-z][a-z-]*)\s", shown.stdout.split("Commands:")[-1], re.M))
        missing = {sub for sub in subs if sub} - listed
        assert not missing, f"README shows `flask --app app {group} {'|'.join(sorted(missing))}`: not a command"


def test_route_files_are_validated_diffed_applied_and_exported(flask_cli, route, config):
    app_id = route.client["app_id"]
    path = config.ROUTES_DIR / app_id / f"{route.service['microservice']}_collection_payment.yaml"

    assert flask_cli("route-config", "export").returncode == 0
    assert "valid" in flask_cli("route-config", "validate").stdout
    assert flask_cli("route-config", "diff").returncode == 0
    assert "route-config diff" in path.read_text()  # the header names the commands that work

    path.write_text(path.read_text().replace("enabled: true", "enabled: false"))
    diff = flask_cli("route-config", "diff")
    assert diff.returncode == 1 and "enabled" in diff.stdout
    applied = flask_cli("route-config", "apply")
    assert applied.returncode == 0 and "applied 1 changed route(s)" in applied.stdout, applied.stderr
    assert flask_cli("route-config", "diff").returncode == 0


def test_a_bad_route_file_is_named_and_nothing_applied(flask_cli, route, config):
    path = config.ROUTES_DIR / route.client["app_id"] / f"{route.service['microservice']}_collection_payment.yaml"
    good = path.read_text()
    try:
        path.write_text(good.replace("timeout_ms: 2000", "timeout_ms: 999999"))
        refused = flask_cli("route-config", "validate")
        assert refused.returncode == 1 and path.name in refused.stderr and "timeout_ms" in refused.stderr
        assert flask_cli("route-config", "apply").returncode == 1
    finally:
        path.write_text(good)


def test_a_client_created_from_the_shell_is_assigned_by_the_app_id_it_prints(flask_cli, admin, downstream):
    name = f"Kigali Shop {unique_name('')}"
    service = admin.create_service(downstream.url + "/pay")

    created = flask_cli("clients", "create", "--name", name)
    assert created.returncode == 0, created.stderr
    app_id = json.loads(created.stdout)["app_id"]
    assigned = flask_cli("clients", "assign", app_id, service["microservice"], "collection", "payment")

    assert app_id == name.lower().replace(" ", "_")
    assert assigned.returncode == 0, assigned.stderr
    assert json.loads(assigned.stdout)["request_function"] == f"{app_id}_{service['microservice']}_payment"


def test_a_duplicate_client_name_is_refused_in_any_case(flask_cli, db):
    name = f"Musanze Store {unique_name('')}"
    assert flask_cli("clients", "create", "--name", name).returncode == 0

    again = flask_cli("clients", "create", "--name", name.upper(), "--app-id", unique_name("other"))

    assert again.returncode == 1 and again.stdout == ""
    error = json.loads(again.stderr.removeprefix("error: "))
    assert error["code"] == "ALREADY_EXISTS" and name in error["message"]
    assert db("SELECT count(*) AS n FROM mospay.clients WHERE lower(name) = lower(%s)", (name,))[0]["n"] == 1


def test_onboarding_from_yaml_creates_everything_once(flask_cli, tmp_path, downstream, db):
    app_id, microservice = unique_name("cli"), unique_name("ms")
    plan = tmp_path / "onboard.yaml"
    plan.write_text(yaml.safe_dump({
        "clients": [{"name": f"CLI Shop {app_id}", "app_id": app_id}],
        "services": [{"microservice": microservice, "service": "collection", "route": "payment",
                      "url": downstream.url, "fields": DEFAULT_FIELDS}],
        "assignments": [{"app_id": app_id, "microservice": microservice, "service": "collection",
                         "route": "payment"}],
    }))

    first = flask_cli("onboard", str(plan))
    again = flask_cli("onboard", str(plan))

    assert first.returncode == 0, first.stderr
    assert '"password"' in first.stdout and f"{app_id}_{microservice}_payment" in first.stdout
    assert again.returncode == 0 and again.stdout.count("skipped") == 3
    assert db("SELECT count(*) AS n FROM mospay.client_services cs JOIN mospay.clients c ON c.id = cs.client_id "
              "WHERE c.app_id = %s", (app_id,))[0]["n"] == 1


def test_functions_round_trip_through_files(flask_cli, tmp_path, route, admin):
    name = f"{route.client['app_id']}_{route.service['microservice']}_payment"
    assert flask_cli("functions", "export", str(tmp_path)).returncode == 0
    path = tmp_path / f"{name}.sql"
    assert path.read_text().startswith("CREATE OR REPLACE FUNCTION")

    path.write_text(path.read_text().replace("'X-Transaction-Ref'", "'X-Reference'"))
    result = flask_cli("functions", "import", str(tmp_path))

    assert result.returncode == 0 and f"{name}: version 2" in result.stdout, result.stderr
    assert admin.get(f"/functions/{name}").json()["version"] == 2
    assert "applied 0" in flask_cli("functions", "import", str(tmp_path)).stdout


def test_a_bad_function_file_is_refused_with_the_reason(flask_cli, tmp_path, route):
    name = f"{route.client['app_id']}_{route.service['microservice']}_payment"
    (tmp_path / f"{name}.sql").write_text(f'CREATE OR REPLACE FUNCTION mospay_fn."{name}"(x int) RETURNS int '
                                          "LANGUAGE sql AS $f$ SELECT 1 $f$")
    result = flask_cli("functions", "import", str(tmp_path))
    assert result.returncode == 1 and "FUNCTION_REFUSED" in result.stderr


def test_a_user_is_created_with_a_prompted_password(flask_cli, db):
    username = unique_name("ops")
    result = flask_cli("users", "create", username, "--role", "dba", stdin="first-password-9\nfirst-password-9\n")
    assert result.returncode == 0, result.stderr
    assert last_json(result)["role"] == "dba"
    assert db("SELECT must_change_password FROM mospay.users WHERE username = %s", (username,))[0][
        "must_change_password"]


def test_a_user_created_without_a_role_is_a_viewer(flask_cli, db):
    username = unique_name("ops")
    result = flask_cli("users", "create", username, "--password", "first-password-9")
    assert result.returncode == 0, result.stderr
    assert last_json(result)["role"] == "viewer"
    assert db("SELECT role FROM mospay.users WHERE username = %s", (username,))[0]["role"] == "viewer"


@pytest.mark.parametrize("command, says", [
    (["transactions", "unknown"], "No manual unknown-outcome follow-ups found."),
    (["transactions", "unknown", "--state", "queued"], "No queued unknown-outcome follow-ups found."),
    (["deliveries", "list"], "No deliveries found."),
])
def test_an_empty_list_says_so(flask_cli, command, says):
    result = flask_cli(*command, "--app-id", unique_name("nobody"))
    assert result.returncode == 0 and result.stdout.strip() == says, result.stderr


def test_a_payment_is_resolved_from_the_shell_by_two_people(flask_cli, route, downstream, db):
    """`transactions resolve` proposes, `transactions approve --by` someone else settles; the same person cannot."""
    downstream.behaviour = lambda path, headers, body: (500, {"oops": True}, 0)
    ref = route.pay().json()["transaction_ref"]

    proposed = flask_cli("transactions", "resolve", ref, "--status", "FAILED", "--reason", "Not in MTN's statement",
                         "--provider-ref", "none", "--by", "alice")
    assert proposed.returncode == 0, proposed.stderr
    proposal = str(json.loads(proposed.stdout)["id"])
    assert proposal in flask_cli("transactions", "proposals").stdout
    same = flask_cli("transactions", "approve", proposal, "--by", "alice")
    assert same.returncode == 1 and "FORBIDDEN" in same.stderr
    approved = flask_cli("transactions", "approve", proposal, "--by", "bob")

    assert approved.returncode == 0, approved.stderr
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]["status"] == "FAILED"
    assert "No open resolution proposals found." in flask_cli("transactions", "proposals").stdout


def test_a_small_team_may_resolve_with_one_approval(flask_cli, cli_env, route, downstream, db):
    downstream.behaviour = lambda path, headers, body: (500, {"oops": True}, 0)
    ref = route.pay().json()["transaction_ref"]

    done = subprocess.run([str(FLASK), "--app", "app", "transactions", "resolve", ref, "--status", "SUCCESS",
                           "--reason", "Confirmed by MTN support", "--by", "alice"], cwd=ROOT,
                          env={**cli_env, "MOSPAY_RESOLUTION_APPROVALS": "1"}, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0 and json.loads(done.stdout)["state"] == "approved", done.stderr
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]["status"] == "SUCCESS"
