"""Route YAML: written on assignment, validated by schema, diffed and applied by `flask --app app route-config`."""

import pytest
import yaml

from gateway.admin import routes_config


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def route_file(integrator, config):
    key = {"app_id": integrator.client["app_id"], "microservice": integrator.service["microservice"],
           "service": "collection", "route": "payment"}
    return routes_config.route_path(config.ROUTES_DIR, key)


def test_the_files_validate_and_match_the_database(cli, route_file):
    assert cli("route-config", "validate").exit_code == 0
    result = cli("route-config", "diff")
    assert result.exit_code == 0, result.output


def test_an_edited_file_shows_in_diff_and_takes_effect_on_apply(cli, route_file, integrator, base_url):
    document = yaml.safe_load(route_file.read_text())
    document["enabled"] = False
    document["fields"][0]["max"] = "100"
    route_file.write_text(routes_config.dump(document))

    diff = cli("route-config", "diff")
    assert diff.exit_code == 1 and "-enabled: true" in diff.output and "+enabled: false" in diff.output
    assert cli("route-config", "apply").exit_code == 0
    assert cli("route-config", "diff").exit_code == 0

    assert integrator.pay().json()["error"]["code"] == "ROUTE_DISABLED"
    document["enabled"] = True
    route_file.write_text(routes_config.dump(document))
    cli("route-config", "apply")
    too_much = integrator.pay(integrator.message(f004="500"))
    assert too_much.json()["error"]["details"] == {"f004": "must be at most 100"}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["upstream"].update(timeout_ms=999999), "upstream.timeout_ms"),
    (lambda d: d["key"].update(app_id="Bad Name"), "key.app_id"),
    (lambda d: d["functions"].update(request="other"), "functions: must be"),
    (lambda d: d.update(extra=1), "(document)"),
    (lambda d: d["fields"].append({"code": "f001", "name": "x"}), "fields[6].code"),
])
def test_an_invalid_file_is_refused_naming_the_place(cli, route_file, change, message):
    document = yaml.safe_load(route_file.read_text())
    change(document)
    route_file.write_text(yaml.safe_dump(document))
    try:
        result = cli("route-config", "validate")
        assert result.exit_code == 1
        assert str(route_file) in result.output and message in result.output
        assert cli("route-config", "apply").exit_code == 1
    finally:
        route_file.unlink()  # leave no broken file for the next test
        assert cli("route-config", "export").exit_code == 0


def test_export_rewrites_files_from_the_database(cli, route_file):
    route_file.unlink()
    assert cli("route-config", "diff").exit_code == 1
    assert cli("route-config", "export").exit_code == 0
    assert cli("route-config", "diff").exit_code == 0


def test_a_file_for_an_unassigned_route_is_refused(cli, config, integrator):
    document = yaml.safe_load(next(config.ROUTES_DIR.glob("*/*.yaml")).read_text())
    document["key"]["app_id"] = "ghost"
    document["functions"] = {"request": f"ghost_{document['key']['microservice']}_payment",
                             "response": f"RESPONSE_ghost_{document['key']['microservice']}_payment"}
    path = routes_config.write(config.ROUTES_DIR, document)
    try:
        result = cli("route-config", "apply")
        assert result.exit_code == 1 and "no such assignment" in result.output
    finally:
        path.unlink()
