"""Operators script everything with `flask`: onboarding from YAML, functions as files, users."""

import json

import pytest
import yaml

from tests.factories import DEFAULT_FIELDS, unique_name


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=list(args), **kwargs)


def test_onboarding_from_yaml_creates_everything_once(cli, tmp_path, downstream, db):
    app_id, microservice = unique_name("cli"), unique_name("ms")
    plan = tmp_path / "onboard.yaml"
    plan.write_text(yaml.safe_dump({
        "clients": [{"name": "CLI Shop", "app_id": app_id}],
        "services": [{"microservice": microservice, "service": "collection", "route": "payment",
                      "url": downstream.url, "fields": DEFAULT_FIELDS}],
        "assignments": [{"app_id": app_id, "microservice": microservice, "service": "collection",
                         "route": "payment"}],
    }))

    first = cli("onboard", str(plan))
    again = cli("onboard", str(plan))

    assert first.exit_code == 0, first.output
    assert '"password"' in first.output and f"{app_id}_{microservice}_payment" in first.output
    assert again.exit_code == 0 and again.output.count("skipped") == 3
    assert db("SELECT count(*) AS n FROM mospay.client_services cs JOIN mospay.clients c ON c.id = cs.client_id "
              "WHERE c.app_id = %s", (app_id,))[0]["n"] == 1


def test_functions_round_trip_through_files(cli, tmp_path, integrator, admin):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    assert cli("functions", "export", str(tmp_path)).exit_code == 0
    path = tmp_path / f"{name}.sql"
    assert path.read_text().startswith("CREATE OR REPLACE FUNCTION")

    path.write_text(path.read_text().replace("'X-Transaction-Ref'", "'X-Reference'"))
    result = cli("functions", "import", str(tmp_path))

    assert result.exit_code == 0 and f"{name}: version 2" in result.output
    assert admin.get(f"/functions/{name}").json()["version"] == 2
    assert "applied 0" in cli("functions", "import", str(tmp_path)).output


def test_a_user_is_created_with_a_prompted_password(cli, db):
    username = unique_name("ops")
    result = cli("users", "create", username, "--role", "dba", input="first-password-9\nfirst-password-9\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["role"] == "dba"
    assert db("SELECT must_change_password FROM mospay.users WHERE username = %s", (username,))[0][
        "must_change_password"]


def test_a_bad_function_file_is_refused_with_the_reason(cli, tmp_path, integrator):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    (tmp_path / f"{name}.sql").write_text(f'CREATE OR REPLACE FUNCTION mospay_fn."{name}"(x int) RETURNS int '
                                          "LANGUAGE sql AS $f$ SELECT 1 $f$")
    result = cli("functions", "import", str(tmp_path))
    assert result.exit_code == 1 and "FUNCTION_REFUSED" in result.output
