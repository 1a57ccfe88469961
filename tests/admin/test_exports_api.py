"""The admin API's CSV exports: the portal's lists, for scripts; callback deliveries included."""

import csv
import io

import requests


def exported(admin, path):
    response = requests.get(f"{admin.base_url}/api/v1/admin/exports/{path}", headers=admin.headers, stream=True,
                            timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/csv") and "Content-Length" not in response.headers
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_a_dead_callback_is_exported_with_the_pages_columns_and_no_secret(admin, integrator, db):
    """A client whose callback endpoint keeps failing: operations export the dead deliveries for the client."""
    paid = integrator.pay().json()
    db("INSERT INTO mospay.jobs (kind, transaction_id, client_id, payload, state, attempts, last_status, last_error) "
       "SELECT 'client_callback', id, client_id, jsonb_build_object('status', 'SUCCESS', 'secret', 'do-not-export'), "
       "'dead', 11, 500, 'HTTP 500' FROM mospay.transactions WHERE ref = %s::uuid RETURNING id",
       (paid["transaction_ref"],))

    rows = exported(admin, f"deliveries?client={integrator.client['app_id']}&state=dead")

    assert rows[0][:6] == ["id", "created_at", "app_id", "transaction_ref", "unique_id", "status"]
    assert [(r[2], r[3], r[5], r[6], r[9]) for r in rows[1:]] == [
        (integrator.client["app_id"], paid["transaction_ref"], "SUCCESS", "dead", "HTTP 500")]
    assert "do-not-export" not in "".join(map(",".join, rows))


def test_every_list_exports_through_the_api_with_its_filters(admin, integrator):
    paid = integrator.pay().json()

    transactions = exported(admin, f"transactions?client={integrator.client['app_id']}")
    assert [r[1] for r in transactions[1:]] == [paid["transaction_ref"]]
    assert exported(admin, "audit?action=client")[0][:3] == ["created_at", "actor", "action"]
    assert exported(admin, f"api-logs?client={integrator.client['app_id']}")[1][1] == integrator.client["app_id"]


def test_an_unknown_list_or_no_token_is_refused_in_the_error_shape(admin, base_url):
    assert requests.get(f"{base_url}/api/v1/admin/exports/secrets", headers=admin.headers,
                        timeout=10).json()["error"]["code"] == "NOT_FOUND"
    refused = requests.get(f"{base_url}/api/v1/admin/exports/audit", timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"
