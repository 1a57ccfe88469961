"""CSV exports of the filtered lists: every matching row, streamed, never a formula."""

import csv
import io

import requests


def exported(session, path):
    response = session.get(path, stream=True)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert "Content-Length" not in response.headers  # streamed as it is read, not built in memory first
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_a_filtered_export_has_every_matching_row_not_one_page(portal_as, integrator, db):
    paid = integrator.pay().json()
    # 3,000 more payments of this client (a page shows 25): the export must carry them all.
    db("INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request, "
       "answer) SELECT client_id, client_service_id, 'bulk-' || n, payload_hash, 'SUCCESS', request, answer "
       "FROM mospay.transactions, generate_series(1, 3000) AS n WHERE ref = %s::uuid RETURNING id",
       (paid["transaction_ref"],))
    viewer = portal_as("viewer")

    rows = exported(viewer, f"/portal/exports/transactions.csv?client={integrator.client['app_id']}")

    assert rows[0][:3] == ["created_at", "ref", "app_id"]
    assert len(rows) == 1 + 3001 and {r[2] for r in rows[1:]} == {integrator.client["app_id"]}
    assert paid["transaction_ref"] in {r[1] for r in rows[1:]}


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(portal_as, db):
    db("INSERT INTO mospay.audit_log (actor, action, target) VALUES ('mallory', 'test.export', "
       "'=HYPERLINK(\"http://evil.example\")') RETURNING id")

    rows = exported(portal_as("viewer"), "/portal/exports/audit.csv?actor=mallory")

    assert [r[3] for r in rows[1:]] == ["'=HYPERLINK(\"http://evil.example\")"]


def test_the_pages_link_their_export_with_the_filters_in_force(portal_as, integrator):
    page = portal_as("viewer").get(f"/portal/transactions?client={integrator.client['app_id']}&status=SUCCESS")
    assert f'/portal/exports/transactions.csv?client={integrator.client["app_id"]}&amp;status=SUCCESS' in page.text


def test_exports_need_a_signed_in_user(base_url):
    response = requests.get(f"{base_url}/portal/exports/api-logs.csv", allow_redirects=False, timeout=10)
    assert response.status_code in (302, 401) and "text/csv" not in response.headers.get("Content-Type", "")


def test_the_callbacks_page_exports_its_deliveries_with_its_filters(portal_as, integrator, db):
    paid = integrator.pay().json()
    db("INSERT INTO mospay.jobs (kind, transaction_id, client_id, payload, state, attempts, last_error) "
       "SELECT 'client_callback', id, client_id, '{\"status\": \"SUCCESS\"}', 'dead', 11, 'HTTP 503' "
       "FROM mospay.transactions WHERE ref = %s::uuid RETURNING id", (paid["transaction_ref"],))
    viewer = portal_as("viewer")
    app_id = integrator.client["app_id"]

    page = viewer.get(f"/portal/deliveries?client={app_id}&state=dead")
    assert f"/portal/exports/deliveries.csv?client={app_id}&amp;state=dead" in page.text
    rows = exported(viewer, f"/portal/exports/deliveries.csv?client={app_id}&state=dead")
    assert [(r[3], r[6], r[9]) for r in rows[1:]] == [(paid["transaction_ref"], "dead", "HTTP 503")]
