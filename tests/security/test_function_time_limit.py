"""Attack: a tenant's function that swallows its own timeout must still end at the limit, and not stall others.

``BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END`` catches the statement
timeout; before the watchdog it ran 15 s against a 2 s limit and, twenty at a time, timed out another
tenant's payments. Now the switch terminates the backend from outside at the limit plus a grace.
"""

import concurrent.futures

from tests.factories import Integrator, replace_function, request_function_name

SWALLOWS_ITS_TIMEOUT = """BEGIN
    BEGIN
        PERFORM pg_sleep(60);
    EXCEPTION WHEN query_canceled THEN
        PERFORM pg_sleep(60);  -- and again, after the statement timeout fired
    END;
    RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', request);
END"""


def test_a_function_that_catches_its_timeout_is_ended_from_outside(integrator, rt, db):
    replace_function(rt, request_function_name(integrator), SWALLOWS_ITS_TIMEOUT)

    response = integrator.pay(timeout=30)

    limit = rt.config.FUNCTION_TIMEOUT_MS / 1000
    assert response.status_code == 504 and response.json()["error"]["code"] == "FUNCTION_TIMEOUT"
    assert response.json()["status"] == "FAILED"  # nothing was forwarded
    assert response.elapsed.total_seconds() < limit + 3, "ended at the limit plus the grace, not after 60 s"
    # The backend is gone, not left sleeping in the database.
    assert not db("SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND state = 'active' AND pid <> "
                  "pg_backend_pid()", ("%" + integrator.client["app_id"] + "%",))


def test_other_tenants_keep_paying_while_hostile_calls_are_ended(integrator, admin, base_url, downstream, rt):
    replace_function(rt, request_function_name(integrator), SWALLOWS_ITS_TIMEOUT)
    other_client = admin.create_client()
    admin.assign(other_client, integrator.service)
    other = Integrator(base_url, other_client, integrator.service)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        hostile = [pool.submit(integrator.pay, integrator.message(), timeout=30) for _ in range(6)]
        honest = [other.pay(timeout=10) for _ in range(10)]
        ended = [f.result() for f in hostile]

    assert [r.status_code for r in honest] == [200] * 10
    assert all(r.json()["error"]["code"] == "FUNCTION_TIMEOUT" for r in ended)
    print("honest p100 during hostile calls:", max(r.elapsed.total_seconds() for r in honest))


def test_a_dba_test_run_takes_the_payment_path(integrator, admin, rt):
    """The workbench's test run is sandboxed and limited like a payment: no superuser, no endless call."""
    name = request_function_name(integrator)
    replace_function(rt, name, SWALLOWS_ITS_TIMEOUT)

    response = admin.post(f"/functions/{name}/test", {"request": integrator.message()}, timeout=30)

    assert response.status_code == 200, response.text
    assert response.json()["ok"] is False and response.json()["error"] == "FUNCTION_TIMEOUT"
