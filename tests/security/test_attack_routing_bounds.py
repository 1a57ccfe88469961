"""A routing rule's amount bounds are numbers: a bound PostgreSQL and Decimal cannot compare is refused when
the route is saved, not found by every payment on the route (each answered 500 before it was claimed)."""

import pytest

from gateway.admin import routes_config
from gateway.naming import function_names


def _document(bound):
    request, response = function_names("acme", "ms", "r")
    target = {"microservice": "ms", "service": "s", "route": "r"}
    return {"key": {"app_id": "acme", "microservice": "ms", "service": "s", "route": "r"},
            "functions": {"request": request, "response": response}, "upstream": {"url": "http://x/"},
            "enabled": True, "routing": {"rules": [{"when": {"amount": {"min": bound}},
                                                    "targets": [target]}]}}


@pytest.mark.parametrize("bound", ["abc", "NaN", "sNaN", "Infinity", ""])
def test_an_amount_bound_that_is_not_a_number_is_refused(bound):
    with pytest.raises(routes_config.RouteConfigError, match="amount"):
        routes_config.validate_document(_document(bound), "route")


def test_a_numeric_bound_is_kept():
    routes_config.validate_document(_document("5000.50"), "route")
    routes_config.validate_document(_document(100), "route")


def test_a_message_amount_that_is_not_a_number_meets_no_bounds():
    from types import SimpleNamespace

    from gateway.hot_path import routing
    route = SimpleNamespace(fields=[], context={})
    assert routing.matches({"amount": {"min": 1}}, route, {"f004": "NaN"}) is False
