"""Templates quote identifiers and literals; nothing reaches SQL raw."""

import pytest

from gateway.functions.templates import available_templates, quote_ident, quote_literal, render


def test_quoting_escapes_what_could_break_out():
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("O'Brien") == "'O''Brien'"
    with pytest.raises(ValueError):
        quote_ident("a\x00b")


def test_every_template_renders_both_functions():
    assert {"generic_json", "mtn_momo_collection"} <= set(available_templates())
    for template in available_templates():
        for kind, name in (("request", "app_ms_route"), ("response", "RESPONSE_app_ms_route")):
            source = render(template, kind, schema="mospay_fn", request_function="app_ms_route",
                            response_function="RESPONSE_app_ms_route",
                            client={"app_id": "app", "name": "Ann's \"Shop\""}, service={
                                "microservice": "ms", "service": "s", "route": "route"})
            assert f'"mospay_fn"."{name}"(' in source


def test_a_client_name_is_rendered_as_a_literal():
    source = render("mtn_momo_collection", "request", schema="mospay_fn", request_function="f",
                    response_function="r", client={"app_id": "a", "name": "x'); DROP TABLE t; --"},
                    service={"microservice": "m", "service": "s", "route": "r"})
    assert "'x''); DROP TABLE t; --'" in source
