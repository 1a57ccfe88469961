"""The provider credential vault: write-only, per service and per client route, never anywhere in clear."""

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.security.sealed import Sealer
from tests.factories import unique_name
from tests.providers import MOMO_FIELDS, base_url, momo_credentials, momo_message, momo_route, momo_server
from tests.servers import ROOT, clean_env


@pytest.fixture(scope="module")
def momo():
    server = momo_server()
    yield server
    server.shutdown()


def service_path(service):
    return "/services/{microservice}/{service}/{route}/credentials".format(**service)


def test_values_go_in_and_only_names_come_out(admin, momo, db):
    service = admin.create_service(base_url(momo), microservice=unique_name("momo"), template="mtn_momo_collection",
                                   fields=MOMO_FIELDS)
    values = momo_credentials(momo)

    stored = admin.put(service_path(service), {"values": values})
    listed = admin.get(service_path(service))

    assert stored.status_code == 200
    assert stored.json()["names"] == sorted(values) and stored.json()["missing"] == [] and stored.json()["updated_at"]
    assert listed.json()["names"] == sorted(values)
    for secret in (values["api_key"], values["api_user"]):
        assert secret not in stored.text + listed.text
    audit = db("SELECT after::text AS after FROM mospay.audit_log WHERE action = 'service.credentials'")
    assert audit and all(values["api_key"] not in row["after"] for row in audit)


def test_an_assignment_without_its_credentials_is_refused_naming_them(admin, momo, db):
    service = admin.create_service(base_url(momo), microservice=unique_name("momo"), template="mtn_momo_collection",
                                   fields=MOMO_FIELDS)
    admin.put(service_path(service), {"values": {"subscription_key": "k", "target_environment": "sandbox"}})
    client = admin.create_client()

    refused = admin.post(f"/clients/{client['app_id']}/services",
                         {k: service[k] for k in ("microservice", "service", "route")})

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "PROVIDER_NOT_CONFIGURED"
    assert refused.json()["error"]["details"] == {"missing": ["api_user", "api_key"]}
    assert db("SELECT count(*) AS n FROM mospay.client_services cs JOIN mospay.clients c ON c.id = cs.client_id "
              "WHERE c.app_id = %s", (client["app_id"],)) == [{"n": 0}]


def test_a_client_route_overrides_the_service_s_credentials(admin, base_url, momo):
    route = momo_route(admin, base_url, momo, credentials={**momo_credentials(momo), "api_key": "wrong"})
    own = momo_credentials(momo)
    path = "/clients/{}/services/{microservice}/{service}/{route}/credentials".format(
        route.client["app_id"], **route.service)

    stored = admin.put(path, {"values": {"api_user": own["api_user"], "api_key": own["api_key"]}})

    assert stored.status_code == 200, stored.text
    assert stored.json()["names"] == ["api_key", "api_user"] and stored.json()["missing"] == []
    assert set(admin.get(path).json()["inherited"]) == set(own)
    assert route.pay(momo_message(route)).status_code == 202  # the route's own key: accepted


def test_a_payment_on_a_route_missing_credentials_sends_nothing(admin, base_url, momo, db):
    route = momo_route(admin, base_url, momo)
    removed = admin.put(service_path(route.service), {"values": {"subscription_key": None}})
    assert removed.json()["missing"] == ["subscription_key"]
    before = momo.simulator.requests

    refused = route.pay(momo_message(route))

    assert refused.status_code == 409 and refused.json()["error"]["code"] == "PROVIDER_NOT_CONFIGURED"
    assert refused.json()["error"]["details"] == {"missing": ["subscription_key"]}
    assert momo.simulator.requests == before
    assert db("SELECT count(*) AS n FROM mospay.transactions t JOIN mospay.clients c ON c.id = t.client_id "
              "WHERE c.app_id = %s", (route.client["app_id"],)) == [{"n": 0}]


@pytest.mark.parametrize("payload, field", [
    ({"values": {}}, "values"), ({"values": {"Bad-Name": "x"}}, "values"), ({"values": {"a": ""}}, "values"),
    ({"values": {"a": 1}}, "values"), ({}, "values"), ({"values": {"a": "x"}, "extra": 1}, "extra"),
])
def test_bad_credential_bodies_are_a_precise_400(admin, momo, payload, field):
    service = admin.create_service(base_url(momo), microservice=unique_name("momo"), template="mtn_momo_collection",
                                   fields=MOMO_FIELDS)
    refused = admin.put(service_path(service), payload)
    assert refused.status_code == 400 and field in refused.json()["error"]["details"]


def test_credentials_are_nowhere_in_clear(admin, base_url, momo, rt, db, config, capfd):
    """Sentinel values travel a whole payment, its status query and exports: no table, log, file or answer
    holds them in clear."""
    sentinels = {**momo_credentials(momo), "subscription_key": "SENTINEL-subscription-9f3c1a77e2"}
    momo.simulator.users["0e1f2a3b-aaaa-4bbb-8ccc-ddddeeeeffff"] = {"providerCallbackHost": "",
                                                                    "api_key": "SENTINEL-api-key-5b8e21c4d9"}
    sentinels.update(api_user="0e1f2a3b-aaaa-4bbb-8ccc-ddddeeeeffff", api_key="SENTINEL-api-key-5b8e21c4d9")
    route = momo_route(admin, base_url, momo, credentials=sentinels)
    paid = route.pay(momo_message(route))
    assert paid.status_code == 202, paid.text
    assert (route.pay(momo_message(route, f010=paid.json()["unique_id"]))).status_code == 202  # a replay
    export_dir = Path(config.ROUTES_DIR).parent / unique_name("export")
    exported = subprocess.run([str(Path(sys.executable).with_name("flask")), "--app", "app", "functions", "export",
                               str(export_dir)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_ROUTES_DIR=config.ROUTES_DIR,
                                            MOSPAY_DEMO=0))
    assert exported.returncode == 0, exported.stderr

    needles = ("SENTINEL-subscription-9f3c1a77e2", "SENTINEL-api-key-5b8e21c4d9")
    tables = db("SELECT table_name FROM information_schema.tables WHERE table_schema = 'mospay'")
    dump = " ".join(row["t"] for table in tables for row in db(
        f"SELECT row_to_json(x)::text AS t FROM mospay.{table['table_name']} x"))
    dump += " ".join(row["prosrc"] for row in db("SELECT prosrc FROM pg_proc WHERE pronamespace = "
                                                 "'mospay_fn'::regnamespace"))
    files = "".join(p.read_text() for p in [*Path(config.ROUTES_DIR).rglob("*.yaml"), *export_dir.rglob("*")]
                    if p.is_file())
    answers = admin.get(f"/clients/{route.client['app_id']}").text + admin.get(service_path(route.service)).text
    logged = "".join(capfd.readouterr())
    for needle in needles:
        assert needle not in dump
        assert needle not in files and needle not in answers and needle not in logged
    stored_call = db("SELECT downstream_request FROM mospay.transactions WHERE ref = %s::uuid",
                     (paid.json()["transaction_ref"],))[0]["downstream_request"]
    assert stored_call["headers"]["Ocp-Apim-Subscription-Key"] == "****"
    assert stored_call["headers"]["Authorization"] == "****"


def test_the_seal_key_rotates_without_losing_a_credential(admin, base_url, momo, rt, db, config):
    """MOSPAY_SEAL_KEYS=new,old: `flask credentials reseal` seals everything under the new key; the old can go."""
    route = momo_route(admin, base_url, momo)
    new_key = "a-new-seal-key-of-forty-random-characters-0123"
    resealed = subprocess.run([str(Path(sys.executable).with_name("flask")), "--app", "app", "credentials", "reseal"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_ROUTES_DIR=config.ROUTES_DIR,
                                            MOSPAY_DEMO=0, MOSPAY_SEAL_KEYS=f"{new_key},{config.seal_keys[0]}"))
    assert resealed.returncode == 0 and "resealed" in resealed.stdout, resealed.stderr

    only_new = Sealer([new_key])
    rows = db("SELECT value_sealed FROM mospay.provider_credentials")
    assert rows and all(only_new.open(row["value_sealed"]) is not None for row in rows)
    rt.registry.reload()  # this process still has only the old key: it can open nothing now, and says so
    refused = route.pay(momo_message(route))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "PROVIDER_NOT_CONFIGURED"
