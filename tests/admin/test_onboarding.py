"""Onboarding through the admin API: clients, services, assignments and their guards."""

import json
import os
import re
import shutil
import subprocess
import sys
import uuid

import psycopg
import pytest
import requests
from psycopg import sql

from gateway.db.migrations import available_migrations, migrate
from tests.factories import Admin, unique_name
from tests.servers import ROOT, clean_env, free_port, start_app, stop_app


def new_client(admin, **overrides):
    """A client with a name of its own (client names are unique)."""
    return admin.create_client(**{"name": unique_name("Shop "), **overrides})


def table_counts(db):
    tables = ("clients", "services", "client_services", "function_versions")
    return {t: db(f"SELECT count(*) AS n FROM mospay.{t}")[0]["n"] for t in tables}


def test_the_seeded_admin_must_change_the_password_first(base_url, admin_token):
    # admin_token already changed it; the old password no longer opens anything.
    assert requests.post(f"{base_url}/api/v1/admin/token", auth=("admin", "admin123")).status_code == 401


def test_a_flagged_admin_is_refused_until_the_password_changes(base_url, rt):
    from gateway.db import Q
    from gateway.security.passwords import hash_password
    username = unique_name("ops")
    with rt.db.connection() as conn:
        conn.execute(Q.insert_user, {"username": username, "role": "admin", "must_change_password": True,
                                     "password_hash": hash_password("first-password", 4)})
    token = requests.post(f"{base_url}/api/v1/admin/token", auth=(username, "first-password")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    refused = requests.get(f"{base_url}/api/v1/admin/clients", headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    short = requests.post(f"{base_url}/api/v1/admin/password", headers=headers,
                          json={"current_password": "first-password", "new_password": "short"})
    assert short.status_code == 400 and "new_password" in short.json()["error"]["details"]
    changed = requests.post(f"{base_url}/api/v1/admin/password", headers=headers,
                            json={"current_password": "first-password", "new_password": "a-much-better-one"})
    assert changed.status_code == 200
    # The old token died with the old password.
    assert requests.get(f"{base_url}/api/v1/admin/clients", headers=headers).status_code == 401


def test_creating_a_client_shows_the_password_once_and_stores_only_a_hash(admin, db):
    created = new_client(admin, name=unique_name("Akaliza Shop "), app_id=unique_name("shop"))

    assert set(created) >= {"app_id", "name", "username", "password"}
    listed = admin.get(f"/clients/{created['app_id']}").json()
    assert "password" not in listed and created["password"] not in str(admin.get("/clients").json())
    stored = db("SELECT password_hash FROM mospay.clients WHERE app_id = %s", (created["app_id"],))[0]
    assert stored["password_hash"].startswith("$2b$") and created["password"] not in stored["password_hash"]


def test_an_app_id_is_derived_from_the_name_when_absent(admin):
    response = admin.post("/clients", {"name": f"Big Shop {unique_name('')} Ltd."})
    assert response.status_code == 201 and response.json()["app_id"].startswith("big_shop_")


def test_a_duplicate_client_is_409(admin):
    client = new_client(admin)
    again = admin.post("/clients", {"name": unique_name("Other "), "app_id": client["app_id"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_EXISTS"
    assert again.json()["error"]["details"] == {"app_id": client["app_id"]}


@pytest.mark.parametrize("payload", [
    lambda name: {"name": name.upper(), "app_id": unique_name("other")},
    lambda name: {"name": f"  {name.lower()} "},  # derives the same app_id, but the name is what is taken
])
def test_a_client_name_is_taken_whatever_its_case(admin, db, payload):
    name = f"Kigali Shop {unique_name('')}"
    client = new_client(admin, name=name)

    again = admin.post("/clients", payload(name))

    assert again.status_code == 409 and set(again.json()) <= {"error", "transaction_ref"}
    assert again.json()["error"] == {
        "code": "ALREADY_EXISTS", "message": f"A client named {name!r} already exists (app_id {client['app_id']!r}).",
        "details": {"name": payload(name)["name"].strip()}}
    assert db("SELECT count(*) AS n FROM mospay.clients WHERE lower(name) = lower(%s)", (name,))[0]["n"] == 1


@pytest.fixture
def empty_database(database_url):
    """A database of its own on the test server, dropped afterwards."""
    name = f"mospay_migration_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield psycopg.conninfo.make_conninfo(database_url, dbname=name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migration_0007_renames_earlier_duplicates_then_makes_names_unique(empty_database, tmp_path):
    before_0007 = tmp_path / "migrations"
    before_0007.mkdir()
    for version, _, path in available_migrations():
        if version < 7:
            shutil.copy(path, before_0007)
    migrate(empty_database, before_0007)
    with psycopg.connect(empty_database) as conn:
        for app_id, name in [("kigalishop", "Kigali Shop"), ("kigalishop2", "KIGALI SHOP"), ("other", "Other"),
                             ("kigalishop3", "kigali shop")]:
            conn.execute("INSERT INTO mospay.clients (app_id, name, username, password_hash) "
                         "VALUES (%s, %s, %s, 'x')", (app_id, name, app_id))

    assert 7 in migrate(empty_database)

    with psycopg.connect(empty_database) as conn:
        names = dict(conn.execute("SELECT app_id, name FROM mospay.clients").fetchall())
        audit = conn.execute("SELECT target, before->>'name', after->>'name' FROM mospay.audit_log "
                             "WHERE action = 'client.rename' ORDER BY target").fetchall()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO mospay.clients (app_id, name, username, password_hash) "
                         "VALUES ('late', 'OTHER', 'late', 'x')")
    assert names == {"kigalishop": "Kigali Shop", "kigalishop2": "KIGALI SHOP (kigalishop2)", "other": "Other",
                     "kigalishop3": "kigali shop (kigalishop3)"}
    assert audit == [("kigalishop2", "KIGALI SHOP", "KIGALI SHOP (kigalishop2)"),
                     ("kigalishop3", "kigali shop", "kigali shop (kigalishop3)")]


def test_assignment_generates_the_functions_and_the_route_file(admin, downstream, rt, config):
    client = new_client(admin)
    service = admin.create_service(downstream.url)

    assigned = admin.assign(client, service)

    expected = f"{client['app_id']}_{service['microservice']}_payment"
    assert assigned["request_function"] == expected
    assert assigned["response_function"] == f"RESPONSE_{expected}"
    assert assigned["callback_function"] == f"CALLBACK_{expected}"  # generic_json has a callback part
    with psycopg.connect(rt.config.DATABASE_URL) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'mospay_fn' AND proname LIKE %s", (f"%{expected}",))}
        versions = conn.execute("SELECT function_name, version, created_by FROM mospay.function_versions "
                                "WHERE function_name LIKE %s ORDER BY 1", (f"%{expected}",)).fetchall()
    assert names == {expected, f"RESPONSE_{expected}", f"CALLBACK_{expected}"}
    assert versions == [(f"CALLBACK_{expected}", 1, "admin"), (f"RESPONSE_{expected}", 1, "admin"),
                        (expected, 1, "admin")]
    route_file = config.ROUTES_DIR / client["app_id"] / f"{service['microservice']}_collection_payment.yaml"
    assert assigned["route_file"] == str(route_file) and route_file.is_file()
    assert admin.post(f"/clients/{client['app_id']}/services",
                      {k: service[k] for k in ("microservice", "service", "route")}).status_code == 409


HOSTILE = ["Robert'); DROP TABLE mospay.clients;--", 'a"b', "UPPER", "1starts_with_digit", "sp ace",
           "x" * 41, "ü_unicode", "", None, 12, ["list"]]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_app_ids_are_400_and_change_nothing(admin, db, value):
    before = table_counts(db)

    response = admin.post("/clients", {"name": "Hostile", "app_id": value})

    assert response.status_code == 400 and "app_id" in response.json()["error"]["details"]
    assert table_counts(db) == before


@pytest.mark.parametrize("part", ["microservice", "service", "route"])
@pytest.mark.parametrize("value", HOSTILE[:6])
def test_hostile_service_names_are_400_and_change_nothing(admin, downstream, db, part, value):
    before = table_counts(db)
    payload = {"microservice": unique_name("ms"), "service": "collection", "route": "payment",
               "url": downstream.url, part: value}

    response = admin.post("/services", payload)

    assert response.status_code == 400 and part in response.json()["error"]["details"]
    assert table_counts(db) == before


def test_names_too_long_for_postgresql_are_refused_before_any_sql(admin, downstream, db):
    client = new_client(admin, app_id=unique_name("a" * 24))  # 32 characters
    service = admin.create_service(downstream.url, microservice="m" * 20, route="r" * 10)
    before = table_counts(db)

    response = admin.post(f"/clients/{client['app_id']}/services",
                          {k: service[k] for k in ("microservice", "service", "route")})

    assert response.status_code == 400 and "63" in response.json()["error"]["message"]
    assert table_counts(db) == before


@pytest.mark.parametrize("fields, where", [
    ([{"code": "f001", "name": "x", "type": "string"}], "fields[0].code"),
    ([{"code": "f004", "name": "x", "type": "money"}], "fields[0].type"),
    ([{"code": "f004", "name": "x", "pattern": "("}], "fields[0].pattern"),
    ([{"code": "f004", "name": "x", "min": "abc"}], "fields[0].min"),
    ([{"code": "f004", "name": "a"}, {"code": "f004", "name": "b"}], "fields[1].code"),
    ([{"code": "f004", "name": "x", "sql": "DROP"}], "fields[0].sql"),
])
def test_bad_field_definitions_are_named(admin, downstream, fields, where):
    response = admin.post("/services", {"microservice": unique_name("ms"), "service": "s", "route": "r",
                                        "url": downstream.url, "fields": fields})
    assert response.status_code == 400 and where in response.json()["error"]["details"]


def test_an_unknown_template_is_refused(admin, downstream):
    response = admin.post("/services", {"microservice": unique_name("ms"), "service": "s", "route": "r",
                                        "url": downstream.url, "template": "../../etc/passwd"})
    assert response.status_code == 400 and "template" in response.json()["error"]["details"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/clients"), ("POST", "/clients"), ("GET", "/services"), ("POST", "/services"),
    ("POST", "/clients/akaliza/credentials"), ("POST", "/clients/akaliza/services"),
    ("POST", "/clients/akaliza/deactivate"),
])
def test_every_admin_endpoint_requires_a_token(base_url, method, path):
    response = requests.request(method, f"{base_url}/api/v1/admin{path}", json={})
    assert response.status_code == 401 and response.json()["error"]["code"] == "UNAUTHORIZED"


def test_the_admin_api_answers_bad_json_precisely(admin):
    response = requests.post(f"{admin.base_url}/api/v1/admin/clients", data=b"{oops",
                             headers={**admin.headers, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "MALFORMED_JSON"


@pytest.mark.parametrize("payload, field", [
    ({"name": "ok", "app_id": "abc\n"}, "app_id"),
    ({"name": "   "}, "name"),
    ({"name": "tab\tname"}, "name"),
])
def test_names_with_hidden_characters_are_400(admin, payload, field):
    response = admin.post("/clients", payload)
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_string_length_bounds_must_be_whole_numbers(admin, downstream):
    response = admin.post("/services", {"microservice": unique_name("ms"), "service": "s", "route": "r",
                                        "url": downstream.url,
                                        "fields": [{"code": "f009", "name": "n", "type": "string", "max": "10.5"}]})
    assert response.status_code == 400 and "fields[0].max" in response.json()["error"]["details"]


def test_an_admin_changes_roles_and_deactivates_users(base_url, admin):
    username = unique_name("dba")
    admin.post("/users", {"username": username, "role": "dba", "password": "first-password-1"})
    first = requests.post(f"{base_url}/api/v1/admin/token", auth=(username, "first-password-1")).json()
    requests.post(f"{base_url}/api/v1/admin/password", headers={"Authorization": f"Bearer {first['access_token']}"},
                  json={"current_password": "first-password-1", "new_password": "final-password-1"})
    dba = Admin(base_url, requests.post(f"{base_url}/api/v1/admin/token",
                                        auth=(username, "final-password-1")).json()["access_token"])
    user_url = f"{base_url}/api/v1/admin/users/{username}"

    demoted = requests.patch(user_url, headers=admin.headers, json={"role": "viewer"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"
    assert dba.post("/functions/anything/rollback", {"version": 1}).status_code == 403  # the role counts at once
    assert requests.patch(user_url, headers=admin.headers, json={"active": False}).status_code == 200
    assert dba.get("/clients").status_code == 401  # a deactivated user's token stops working

    own = requests.patch(f"{base_url}/api/v1/admin/users/admin", headers=admin.headers, json={"role": "viewer"})
    assert own.status_code == 400
    bad = requests.patch(user_url, headers=admin.headers, json={"role": "root"})
    assert bad.status_code == 400 and "role" in bad.json()["error"]["details"]
    assert requests.patch(f"{base_url}/api/v1/admin/users/nobody", headers=admin.headers,
                          json={"active": True}).status_code == 404


def readme_walkthrough(port, simulator_port):
    """The README's "Onboard a client" shell blocks, for a switch and simulator on these ports."""
    section = (ROOT / "README.md").read_text().split("## Onboard a client")[1].split("\n## ")[0]
    script = "\n".join(re.findall(r"```bash\n(.*?)```", section, re.S))
    for typed, used in [("127.0.0.1:5000", f"127.0.0.1:{port}"), ("127.0.0.1:5050", f"127.0.0.1:{simulator_port}"),
                        ("flask --app app ", f"flask --app {ROOT / 'app.py'} ")]:  # run from a scratch directory
        script = script.replace(typed, used)
    return script


def json_objects(text):
    """Every JSON object printed in ``text`` (curl answers have no newline between them)."""
    decoder, start, found = json.JSONDecoder(), 0, []
    while (start := text.find("{", start)) != -1:
        try:
            value, start = decoder.raw_decode(text, start)
            found.append(value)
        except ValueError:
            start += 1
    return found


def test_the_readme_onboarding_walkthrough_ends_with_the_new_clients_payment(tmp_path):
    env = clean_env(MOSPAY_DATA_DIR=tmp_path / "instance", MOSPAY_ROUTES_DIR=tmp_path / "routes", PORT=free_port(),
                    MOSPAY_SIMULATOR_PORT=free_port(), WEB_CONCURRENCY=1, MOSPAY_BCRYPT_ROUNDS=4,
                    LOG_LEVEL="WARNING")
    script = readme_walkthrough(env["PORT"], env["MOSPAY_SIMULATOR_PORT"])
    process = start_app(env)
    try:
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                             timeout=180, env={**env, "PATH": f"{os.path.dirname(sys.executable)}:{env['PATH']}"})
    finally:
        stop_app(process)

    assert run.returncode == 0, run.stderr
    answers = json_objects(run.stdout)
    assert not [a for a in answers if "error" in a], run.stdout
    payment, settled = [a for a in answers if a.get("unique_id") == "kigali-0001"]
    assert payment["status"] == "PENDING" and payment["code"] == "ACCEPTED", run.stdout  # MTN's 202
    assert settled["status"] == "SUCCESS", run.stdout  # the worker's status query settled it
    assert {"kigalishop", "musanze_store"} <= {p.name for p in (tmp_path / "routes").iterdir()}
