"""Attack: an admin field pattern that backtracks for ever (``^(a+)+$``) froze a worker.

Field patterns run on RE2, a linear-time engine: the hostile message is answered
400 at once; patterns RE2 cannot run (backreferences, lookaround) are refused
when the service is created, naming the field.
"""

from tests.factories import DEFAULT_FIELDS, Integrator

CATASTROPHIC = "^(a+)+$"


def test_a_catastrophic_pattern_answers_400_at_once(base_url, admin, downstream):
    fields = [*DEFAULT_FIELDS[:-1], {"code": "f009", "name": "narration", "type": "string", "pattern": CATASTROPHIC}]
    client, service = admin.create_client(), admin.create_service(downstream.url + "/pay", fields=fields)
    admin.assign(client, service)
    integrator = Integrator(base_url, client, service)
    # On Python's re this message takes longer than the age of the universe; the timeout is a backstop only.
    response = integrator.pay(integrator.message(f009="a" * 40 + "!"), timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": "VALIDATION_ERROR", "message": "Some fields are not valid.",
                                        "details": {"f009": "has an invalid format"}}
    assert downstream.received == []  # refused before anything was sent
    assert integrator.pay(integrator.message(f009="aaaa"), timeout=10).status_code == 200


def test_a_pattern_re2_cannot_run_is_refused_at_service_creation(admin, downstream):
    fields = [{"code": "f009", "name": "narration", "type": "string", "pattern": r"^(a)\1$"}]
    response = admin.post("/services", {"microservice": "rxback", "service": "collection", "route": "payment",
                                        "url": downstream.url + "/pay", "fields": fields})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "narration" in error["details"]["fields[0].pattern"]
    assert "RE2" in error["details"]["fields[0].pattern"]
