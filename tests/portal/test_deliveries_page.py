"""The portal's client callback page: deliveries listed, filtered and re-sent."""

import pytest

from tests.follow_up.test_provider_callbacks import notify, pending


@pytest.fixture
def dead_delivery(admin, base_url, downstream, db, rt):
    """A settled payment whose client callback is dead-lettered."""
    from tests.factories import Integrator
    client = admin.create_client(callback_url="http://127.0.0.1:9/closed")
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    integrator = Integrator(base_url, client, service)
    downstream.behaviour = pending
    paid = integrator.pay().json()
    assert notify(base_url, integrator, {"transaction_ref": paid["transaction_ref"], "status": "SUCCESS"}).ok
    job = db("UPDATE mospay.jobs j SET state = 'dead', attempts = 11 FROM mospay.transactions t "
             "WHERE t.id = j.transaction_id AND t.ref = %s::uuid RETURNING j.id", (paid["transaction_ref"],))[0]
    return {"id": job["id"], "app_id": client["app_id"], "unique_id": paid["unique_id"]}


def test_deliveries_are_listed_and_filtered(portal_as, dead_delivery):
    viewer = portal_as("viewer")
    page = viewer.get(f"/portal/deliveries?client={dead_delivery['app_id']}&state=dead")

    assert page.status_code == 200 and f'id="delivery-{dead_delivery["id"]}"' in page.text
    assert dead_delivery["unique_id"] in page.text and "Resend" not in page.text  # a viewer only reads
    assert f'id="delivery-{dead_delivery["id"]}"' not in viewer.get(
        f"/portal/deliveries?client={dead_delivery['app_id']}&state=done").text
    assert viewer.get("/portal/deliveries?state=bogus").status_code == 200
    assert viewer.post(f"/portal/deliveries/{dead_delivery['id']}/resend").status_code in (400, 403)


def test_an_admin_resends_a_dead_delivery(portal_as, dead_delivery, db):
    admin_portal = portal_as("admin")
    assert "Resend" in admin_portal.get("/portal/deliveries").text

    response = admin_portal.submit(f"/portal/deliveries/{dead_delivery['id']}/resend", form_page="/portal/deliveries")

    assert response.status_code == 302
    assert "queued again" in admin_portal.get(response.headers["Location"]).text
    assert db("SELECT state, attempts FROM mospay.jobs WHERE id = %s", (dead_delivery["id"],))[0] == \
        {"state": "queued", "attempts": 0}
