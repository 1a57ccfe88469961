"""A route's YAML edited in the portal: checked as `route-config apply` checks a file, applied, written, reloaded."""

import yaml

from gateway.admin import routes_config
from tests.factories import DEFAULT_FIELDS


def _route(admin, downstream):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay", fields=DEFAULT_FIELDS)
    admin.assign(client, service)
    return client, service, f"/portal/routes/{client['app_id']}/{service['microservice']}/collection/payment/edit"


def test_an_admin_adds_routing_rules_to_a_route_in_the_portal(portal_as, admin, downstream, config, rt):
    client, service, page = _route(admin, downstream)
    other = admin.create_service(downstream.url + "/other", fields=DEFAULT_FIELDS)
    admin.assign(client, other)
    session = portal_as("admin")
    document = yaml.safe_load(session.get(page).text.split('id="document"', 1)[1].split(">", 1)[1]
                              .split("</textarea>", 1)[0].replace("&#34;", '"').replace("&#39;", "'"))
    document["routing"] = {"rules": [{"name": "to the other", "targets": [
        {"microservice": other["microservice"], "service": "collection", "route": "payment"}]}]}

    saved = session.post(page, data={"document": routes_config.dump(document), "csrf_token": session.token(page)})

    assert saved.status_code == 302, saved.text
    key = (client["app_id"], service["microservice"], "collection", "payment")
    assert rt.registry.snapshot.routes[key].context["route"]["routing"]["rules"][0]["name"] == "to the other"
    on_disk = yaml.safe_load(routes_config.route_path(config.ROUTES_DIR, dict(zip(
        ("app_id", "microservice", "service", "route"), key, strict=True))).read_text())
    assert on_disk["routing"] == document["routing"]


def test_a_bad_document_is_refused_with_its_place_and_nothing_changes(portal_as, admin, downstream, rt):
    client, service, page = _route(admin, downstream)
    session = portal_as("admin")
    key = (client["app_id"], service["microservice"], "collection", "payment")
    before = rt.registry.snapshot.routes[key].context["route"]
    bad = {
        "not yaml": "key: [",
        "a target of another client": routes_config.dump({**_current(rt, key), "routing": {
            "rules": [{"targets": [{"microservice": "nobody", "service": "x", "route": "y"}]}]}}),
        "another route's key": routes_config.dump({**_current(rt, key), "key": {**dict(zip(
            ("app_id", "microservice", "service", "route"), key, strict=True)), "route": "elsewhere"}}),
    }
    for text in bad.values():
        refused = session.post(page, data={"document": text, "csrf_token": session.token(page)})
        assert refused.status_code == 400 and 'id="route-error"' in refused.text

    assert rt.registry.snapshot.routes[key].context["route"] == before


def _current(rt, key):
    with rt.db.connection() as conn:
        return routes_config._database_documents(conn)[key][1]


def test_a_viewer_cannot_edit_a_route(portal_as, admin, downstream):
    _, _, page = _route(admin, downstream)
    viewer = portal_as("viewer")

    assert viewer.get(page).status_code == 403
