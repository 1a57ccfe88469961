"""A payment's lease covers the route that may carry it, not only the route its message names.

Recovery takes a payment whose lease expired and settles it by the named route's status query; if the
lease was computed from the named route alone, a routing target with a longer retry policy could still be
calling its provider when recovery settles the payment on the other provider's word.
"""

import yaml

from gateway.admin import routes_config
from tests.factories import Integrator, unique_name
from tests.hot_path.test_routing import STANDARD, providers, set_routing, standard_pay  # noqa: F401


def test_the_lease_covers_the_retries_of_the_route_failed_over_to(admin, base_url, providers,  # noqa: F811
                                                                  app, config, db):
    client = admin.create_client()
    named = admin.create_service(providers[0].url + "/pay", fields=STANDARD, microservice=unique_name("named"))
    patient = admin.create_service(providers[1].url + "/pay", fields=STANDARD, microservice=unique_name("patient"))
    admin.assign(client, named)
    admin.assign(client, patient)
    key = lambda s: {k: s[k] for k in ("microservice", "service", "route")}  # noqa: E731
    set_routing(app, config, client, named, {"rules": [{"name": "all to patient", "targets": [key(patient)]}]})
    path = routes_config.route_path(config.ROUTES_DIR, {"app_id": client["app_id"], **key(patient)})
    document = yaml.safe_load(path.read_text())
    document["retry"] = {"max_attempts": 5, "on": ["timeout"], "allow_post": True}
    path.write_text(routes_config.dump(document))
    assert app.test_cli_runner().invoke(args=["route-config", "apply"]).exit_code == 0

    paid = standard_pay(Integrator(base_url, client, named))
    assert paid.status_code == 200, paid.text

    [row] = db("SELECT extract(epoch FROM lease_expires_at - created_at) AS lease FROM mospay.transactions "
               "WHERE unique_id = %s", (paid.json()["unique_id"],))
    assert row["lease"] >= 5 * config.MAX_TIMEOUT_MS / 1000, "the lease ends while the target may still be retrying"


def test_the_lease_covers_a_token_step_and_the_401_that_sends_the_call_again(config):
    from types import SimpleNamespace

    from gateway.hot_path.payments import lease_seconds
    route = SimpleNamespace(context={"route": {}}, token_step={"url": "https://auth.example/token"})
    worst = 4 * config.MAX_TIMEOUT_MS / 1000  # token, call (401), token again, call again: each at the limit

    assert lease_seconds(config, [route]) >= worst
