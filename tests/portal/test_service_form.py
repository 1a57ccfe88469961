"""Creating a service: the field rules the admin API and the portal's form refuse, all named at once."""

import re

import pytest

from tests.factories import DEFAULT_FIELDS, unique_name


@pytest.fixture(scope="module")
def admin_portal(portal_as):
    return portal_as("admin")


def service(url, fields):
    return {"microservice": unique_name("ms"), "service": "collection", "route": "payment", "url": url,
            "template": "generic_json", "fields": fields}


@pytest.mark.parametrize("field, key, message", [
    ({"code": "f004", "name": "amount", "type": "amount", "min": "500", "max": "100"}, "fields[0].min",
     "amount: min 500 is greater than max 100"),
    ({"code": "f009", "name": "narration", "type": "string", "min": "20", "max": "10"}, "fields[0].min",
     "narration: min 20 is greater than max 10"),
    ({"code": "f007", "name": "note", "type": "string"}, "fields[0].type", "f007 is always secret"),
    ({"code": "f008", "name": "note"}, "fields[0].type", "f008 is always secret"),
])
def test_the_admin_api_refuses_impossible_and_misleading_field_rules(admin, downstream, field, key, message):
    refused = admin.post("/services", service(downstream.url, [field]))

    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and message in error["details"][key]


def test_an_update_is_checked_the_same_way(admin, admin_portal, downstream):
    created = admin.post("/services", service(downstream.url, DEFAULT_FIELDS[:1]))
    assert created.status_code == 201, created.text
    ms = created.json()["microservice"]
    data = {"url": downstream.url, "method": "POST", "timeout_ms": "1000", "template": "generic_json",
            "fields-0-use": "y", "fields-0-name": "amount", "fields-0-type": "amount", "fields-0-min": "9",
            "fields-0-max": "1"}
    refused = admin_portal.submit(f"/portal/services/{ms}/collection/payment/edit", data)
    assert refused.status_code == 400 and "amount: min 9 is greater than max 1" in refused.text


def test_the_new_service_form_names_every_problem_in_one_answer(admin_portal):
    data = {"microservice": "", "service": "collection", "route": "payment", "url": "not a url",
            "method": "POST", "timeout_ms": "soon", "template": "generic_json",
            "fields-0-use": "y", "fields-0-name": "amount", "fields-0-type": "amount", "fields-0-min": "9",
            "fields-0-max": "1", "fields-3-use": "y", "fields-3-name": "note", "fields-3-type": "string"}

    refused = admin_portal.submit("/portal/services/new", data)

    assert refused.status_code == 400
    page = refused.text
    for problem in ("is required", "has an invalid format", "must be of type integer",
                    "amount: min 9 is greater than max 1", "f007 is always secret"):
        assert problem in page, problem


def test_the_new_service_form_starts_with_generic_json(admin_portal):
    form = admin_portal.get("/portal/services/new").text
    template = form.split('id="template"')[1].split("</select>")[0]
    assert re.search(r'<option selected value="generic_json">', template), template
