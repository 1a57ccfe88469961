"""A payment in flight at the provider it failed over to belongs to that provider's route at once.

The payment row names its route; recovery (after a crash, or a lease that ran out) settles a stale
payment by that route's status query. If the row still names the route the message named while the
call is out at the other provider, recovery asks the wrong provider about it.
"""

import threading
import time

from gateway.follow_up import recovery
from gateway.hot_path.forwarder import upstream_key
from tests.hot_path.test_routing import providers, standard_pay, two_routes  # noqa: F401


def test_recovery_sees_the_route_the_call_went_out_on(two_routes, providers, rt, db):  # noqa: F811
    payer, first, second = two_routes
    downstream, second_provider = providers
    downstream.kill()
    downstream.shutdown = downstream.server_close = lambda: None
    second_provider.behaviour = lambda path, headers, body: (200, {"status": "SUCCESS"}, 3)
    answers = []
    try:
        paying = threading.Thread(target=lambda: answers.append(standard_pay(payer)))
        paying.start()
        deadline = time.monotonic() + 5
        while not second_provider.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second_provider.received, "the payment never failed over"
        # The switch dies here (or its lease runs out): recovery looks at the row as it stands.
        [row] = db("UPDATE mospay.transactions SET lease_expires_at = now() - interval '1 second', "
                   "updated_at = now() - interval '1 second' WHERE status = 'RECEIVED' "
                   "AND unique_id LIKE 'tx%%' RETURNING (SELECT s.microservice FROM mospay.client_services cs "
                   "JOIN mospay.services s ON s.id = cs.service_id WHERE cs.id = client_service_id) AS microservice")
        assert row["microservice"] == second["microservice"], "recovery would ask the first provider"
        recovery.recover(rt)
        paying.join(10)
    finally:
        rt.forwarder.circuits.breaker(upstream_key(downstream.url)).record(True)
