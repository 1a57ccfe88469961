"""Unknown-outcome policy in route YAML (on_unknown), run by the worker."""

import pytest
import yaml

from gateway.admin import routes_config
from gateway.follow_up import jobs
from tests.factories import Integrator
from tests.follow_up.test_provider_callbacks import notify


def configure(rt, config, integrator, **sections):
    """Add sections to the route's YAML file and apply it, as an operator would."""
    key = {"app_id": integrator.client["app_id"], **{k: integrator.service[k] for k in ("microservice", "service",
                                                                                        "route")}}
    path = routes_config.route_path(config.ROUTES_DIR, key)
    document = {**yaml.safe_load(path.read_text()), **sections}
    path.write_text(routes_config.dump(document))
    routes_config.apply(rt.db, config.ROUTES_DIR)
    rt.registry.reload()


def provider(pay=(500, {"oops": True}), status=(200, {"status": "SUCCESS", "code": "FOUND"}),
             reverse=(200, {"status": "SUCCESS", "code": "REVERSED_OK"})):
    """A downstream whose payment call is unreadable (UNKNOWN) and whose status and reversal answer as given."""
    def behave(path, headers, body):
        answer = status if path.startswith("/status/") else reverse if path.startswith("/reverse") else pay
        return answer[0], answer[1], 0
    return behave


def follow_up_of(db, ref):
    rows = db("SELECT j.* FROM mospay.jobs j JOIN mospay.transactions t ON t.id = j.transaction_id "
              "WHERE t.ref = %s::uuid AND j.kind = 'unknown_outcome'", (ref,))
    return rows[0] if rows else None


def status_of(db, ref):
    return db("SELECT status, answer FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]


def run_now(rt, db, job):
    db("UPDATE mospay.jobs SET run_at = now() WHERE id = %s RETURNING id", (job["id"],))
    jobs.work(rt, once=True)


@pytest.fixture
def status_route(rt, config, integrator, downstream):
    configure(rt, config, integrator, status_query={"url": downstream.url + "/status/{transaction_ref}"},
              on_unknown={"policy": "status_query", "schedule": [30, 60], "deadline_seconds": 600})
    return integrator


def test_an_unknown_payment_is_settled_by_the_status_query_schedule(status_route, downstream, rt, db):
    downstream.behaviour = provider()
    unknown = status_route.pay().json()
    assert unknown["status"] == "UNKNOWN"
    job = follow_up_of(db, unknown["transaction_ref"])
    assert job["state"] == "queued" and job["payload"]["policy"] == "status_query"
    assert 25 < (job["run_at"] - job["created_at"]).total_seconds() < 35  # the schedule's first interval

    run_now(rt, db, job)

    assert status_of(db, unknown["transaction_ref"])["status"] == "SUCCESS"
    assert status_of(db, unknown["transaction_ref"])["answer"]["code"] == "FOUND"
    assert follow_up_of(db, unknown["transaction_ref"])["state"] == "done"
    assert downstream.received[-1]["path"] == f"/status/{unknown['transaction_ref']}"
    replay = status_route.pay({**status_route.message(), "f010": unknown["unique_id"]})
    assert replay.json()["status"] == "SUCCESS"


def test_no_final_answer_follows_the_schedule_then_waits_for_an_operator(status_route, downstream, rt, db):
    downstream.behaviour = provider(status=(200, {"status": "PENDING"}))
    ref = status_route.pay().json()["transaction_ref"]

    run_now(rt, db, follow_up_of(db, ref))

    job = follow_up_of(db, ref)
    assert job["state"] == "queued" and job["payload"]["step"] == 1 and job["attempts"] == 1
    assert 55 < (job["run_at"] - job["updated_at"]).total_seconds() < 65  # the schedule's next interval
    db("UPDATE mospay.jobs SET created_at = now() - interval '599 seconds' WHERE id = %s RETURNING id", (job["id"],))

    run_now(rt, db, job)

    job = follow_up_of(db, ref)
    assert job["state"] == "manual" and "deadline" in job["last_error"]
    assert status_of(db, ref)["status"] == "UNKNOWN"  # never guessed


def test_a_status_query_never_overrides_a_callbacks_final_state(status_route, downstream, rt, db, base_url):
    downstream.behaviour = provider()  # the callback's SUCCESS is confirmed by the status query…
    ref = status_route.pay().json()["transaction_ref"]
    assert notify(base_url, status_route, {"transaction_ref": ref, "status": "SUCCESS"}).json()["outcome"] == \
        "applied"
    downstream.behaviour = provider(status=(200, {"status": "FAILED", "code": "LATE_VIEW"}))  # …then it changes

    run_now(rt, db, follow_up_of(db, ref))

    assert status_of(db, ref)["status"] == "SUCCESS"
    assert follow_up_of(db, ref)["state"] == "done"


def test_a_final_answer_queues_no_follow_up(status_route, downstream, db):
    downstream.behaviour = provider(pay=(200, {"status": "SUCCESS", "code": "OK"}))
    ref = status_route.pay().json()["transaction_ref"]
    assert follow_up_of(db, ref) is None


def test_a_reverse_policy_sends_the_reversal_and_fails_the_payment(admin, base_url, downstream, rt, config, db):
    payment = admin.create_service(downstream.url + "/pay")
    reversal = admin.create_service(downstream.url + "/reverse", microservice=payment["microservice"],
                                    route="reverse")
    client = admin.create_client()
    admin.assign(client, payment)
    admin.assign(client, reversal)
    integrator = Integrator(base_url, client, payment)
    configure(rt, config, integrator, on_unknown={"policy": "reverse", "reversal_route": "reverse", "schedule": [5]})
    downstream.behaviour = provider()
    unknown = integrator.pay().json()

    run_now(rt, db, follow_up_of(db, unknown["transaction_ref"]))

    settled = status_of(db, unknown["transaction_ref"])
    assert settled["status"] == "FAILED" and settled["answer"]["code"] == "REVERSED"
    assert settled["answer"]["data"]["reversal"]["code"] == "REVERSED_OK"
    sent = [r for r in downstream.received if r["path"] == "/reverse"]
    assert len(sent) == 1 and sent[0]["body"]["f010"] == unknown["unique_id"]
    assert sent[0]["headers"]["X-Transaction-Ref"] == unknown["transaction_ref"]


def test_a_failed_reversal_is_retried_on_the_schedule(admin, base_url, downstream, rt, config, db):
    payment = admin.create_service(downstream.url + "/pay")
    reversal = admin.create_service(downstream.url + "/reverse", microservice=payment["microservice"],
                                    route="reverse")
    client = admin.create_client()
    admin.assign(client, payment)
    admin.assign(client, reversal)
    integrator = Integrator(base_url, client, payment)
    configure(rt, config, integrator, on_unknown={"policy": "reverse", "reversal_route": "reverse",
                                                  "schedule": [5, 10]})
    downstream.behaviour = provider(reverse=(200, {"status": "FAILED", "code": "TRY_LATER"}))
    ref = integrator.pay().json()["transaction_ref"]

    run_now(rt, db, follow_up_of(db, ref))

    job = follow_up_of(db, ref)
    assert job["state"] == "queued" and "TRY_LATER" in job["last_error"]
    assert status_of(db, ref)["status"] == "UNKNOWN"
    downstream.behaviour = provider()
    run_now(rt, db, job)
    assert status_of(db, ref)["status"] == "FAILED"


def test_a_manual_policy_only_lists_the_payment(admin, rt, config, integrator, downstream, db):
    configure(rt, config, integrator, on_unknown={"policy": "manual"})
    downstream.behaviour = provider()
    ref = integrator.pay().json()["transaction_ref"]

    jobs.work(rt, once=True)

    assert follow_up_of(db, ref)["state"] == "manual" and follow_up_of(db, ref)["attempts"] == 0
    listed = admin.get(f"/unknown-outcomes?app_id={integrator.client['app_id']}&state=manual").json()["follow_ups"]
    assert [(f["transaction_ref"], f["policy"], f["status"]) for f in listed] == [(ref, "manual", "UNKNOWN")]
    assert admin.get("/unknown-outcomes?state=nope").status_code == 400


def test_the_cli_lists_payments_waiting_for_an_operator(app, rt, config, integrator, downstream):
    configure(rt, config, integrator, on_unknown={"policy": "manual"})
    downstream.behaviour = provider()
    ref = integrator.pay().json()["transaction_ref"]

    result = app.test_cli_runner().invoke(args=["transactions", "unknown", "--app-id", integrator.client["app_id"]])

    assert result.exit_code == 0 and ref in result.output and "manual" in result.output


@pytest.mark.parametrize("on_unknown, problem", [
    ({"policy": "status_query"}, "status_query needs"),
    ({"policy": "reverse"}, "reversal_route"),
    ({"policy": "reverse", "reversal_route": "payment"}, "another route"),
    ({"policy": "retry"}, "policy"),
    ({"policy": "manual", "schedule": []}, "schedule"),
    ({"policy": "manual", "deadline_seconds": 0}, "deadline_seconds"),
])
def test_a_bad_on_unknown_is_refused_naming_the_place(on_unknown, problem):
    document = {"key": {"app_id": "shop", "microservice": "ms", "service": "collection", "route": "payment"},
                "functions": {"request": "shop_ms_payment", "response": "RESPONSE_shop_ms_payment"},
                "upstream": {"url": "http://127.0.0.1:9/pay"}, "enabled": True, "on_unknown": on_unknown}

    with pytest.raises(routes_config.RouteConfigError) as refused:
        routes_config.validate_document(document, "routes_config/shop/ms.yaml")

    assert "routes_config/shop/ms.yaml" in str(refused.value) and problem in str(refused.value)


def test_a_payment_recovery_leaves_unknown_is_followed_up_too(status_route, downstream, rt, db):
    from gateway.follow_up.recovery import recover
    downstream.behaviour = provider(status=(200, {"status": "PENDING"}))
    route = rt.registry.route(status_route.client["app_id"], status_route.service["microservice"], "collection",
                              "payment")
    row = db("INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request, "
             "updated_at) VALUES (%s, %s, 'crashed-1', '\\x00', 'RECEIVED', '{}', now() - interval '1 hour') "
             "RETURNING ref::text AS ref", (route.client_id, route.client_service_id))[0]

    assert recover(rt, older_than_seconds=60)[row["ref"]] == "UNKNOWN"

    job = follow_up_of(db, row["ref"])
    assert job["state"] == "queued" and job["payload"]["policy"] == "status_query"


def test_recovery_keeps_the_provider_s_answer_without_the_route_s_secrets(status_route, downstream, admin, rt, db):
    from gateway.follow_up.recovery import recover
    path = "/services/{microservice}/{service}/{route}/credentials".format(**status_route.service)
    assert admin.put(path, {"values": {"api_key": "recovery-api-key-3141"}}).status_code == 200
    rt.registry.reload()
    # A careless provider echoes the key the switch authenticated with in its status answer.
    downstream.behaviour = provider(status=(200, {"status": "SUCCESS", "code": "FOUND",
                                                  "echo": "key=recovery-api-key-3141"}))
    route = rt.registry.route(status_route.client["app_id"], status_route.service["microservice"], "collection",
                              "payment")
    assert route.credentials == {"api_key": "recovery-api-key-3141"}
    row = db("INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request, "
             "updated_at) VALUES (%s, %s, 'crashed-2', '\\x00', 'RECEIVED', '{}', now() - interval '1 hour') "
             "RETURNING ref::text AS ref", (route.client_id, route.client_service_id))[0]

    assert recover(rt, older_than_seconds=60)[row["ref"]] == "SUCCESS"

    [stored] = db("SELECT downstream_response FROM mospay.transactions WHERE ref = %s::uuid", (row["ref"],))
    assert stored["downstream_response"]["status_code"] == 200
    assert "recovery-api-key-3141" not in str(stored["downstream_response"])
    assert "date" not in stored["downstream_response"]["headers"]  # transport headers are not kept
