"""Two instances on one database stay consistent: a change through one reaches the other within a second."""

import time

import requests

from tests.factories import Admin, Integrator, unique_name

WITHIN_SECONDS = 1.0


def eventually(check, within=WITHIN_SECONDS):
    """Poll ``check`` until true; returns the seconds it took (fails after ``within``)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not consistent within {within} s")


def status_code(integrator, auth=None):
    """What the instance answers this client's status probe: 404 known, 401 refused (no failure counted twice)."""
    return requests.get(f"{integrator.base_url}/api/v1/payment/status/probe", auth=auth or integrator.auth,
                        headers=integrator.headers, timeout=2).status_code


def test_changes_through_one_instance_reach_the_other(two_instances, admin_token, downstream):
    first, second = two_instances
    admin = Admin(first, admin_token)
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    on_second = Integrator(second, client, service)

    # A new client and route, created through the first instance, pay through the second.
    eventually(lambda: on_second.pay().status_code == 200)

    # Disabling the route through the first instance.
    key = f"/clients/{client['app_id']}/services/{service['microservice']}/collection/payment"
    admin.post(key + "/disable")
    eventually(lambda: on_second.pay().status_code == 403)
    admin.post(key + "/enable")
    eventually(lambda: on_second.pay().status_code == 200)

    # A credential rotation: the old password stops working on the second instance too.
    rotated = admin.post(f"/clients/{client['app_id']}/credentials").json()
    new_auth = (rotated["username"], rotated["password"])
    eventually(lambda: status_code(on_second, new_auth) == 404)
    assert status_code(on_second) == 401

    # Deactivating the client.
    admin.post(f"/clients/{client['app_id']}/deactivate")
    eventually(lambda: status_code(on_second, new_auth) == 401)


def test_a_function_edit_through_one_instance_is_used_by_the_other(two_instances, admin_token, downstream):
    first, second = two_instances
    admin = Admin(first, admin_token)
    client = admin.create_client(app_id=unique_name("fx"))
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    on_second = Integrator(second, client, service)
    eventually(lambda: on_second.pay().status_code == 200)
    name = f"{client['app_id']}_{service['microservice']}_payment"

    admin.put(f"/functions/{name}", {"source": f"""CREATE OR REPLACE FUNCTION mospay_fn."{name}"(request jsonb,
        context jsonb) RETURNS jsonb LANGUAGE sql AS $f$ SELECT jsonb_build_object('reject',
        jsonb_build_object('code', 'PAUSED', 'message', 'Paused by the DBA')) $f$"""})

    eventually(lambda: on_second.pay().status_code == 422)
