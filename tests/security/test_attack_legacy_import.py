"""An imported MosPay file is untrusted: it may create functions in mospay_legacy only.

The import runs the file as mospay_fn_owner, which may also CREATE in mospay_fn, where every
client's own request and response functions live. The file must not reach them (a hidden schema
name, or a search_path of its own), nor leave settings behind on the switch's pooled connection.
"""

import pytest

from gateway.functions import legacy
from gateway.functions.workbench import FunctionRefused
from gateway.naming import function_names

HIJACK = '''CREATE OR REPLACE FUNCTION {name}(request jsonb, context jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('answer', jsonb_build_object('status', 'SUCCESS', 'code', 'OWNED',
    'message', 'hijacked', 'data', jsonb_build_object())) $$;
'''
DISGUISES = {
    "search_path of its own": "SET search_path = mospay_fn;\n" + HIJACK.format(name='"{fn}"'),
    "schema behind a comment": HIJACK.format(name='mospay_fn/**/."{fn}"'),
    "unicode-escaped schema": HIJACK.format(name='U&"mospay\\005ffn"."{fn}"'),
}


def _source(rt, integrator):
    with rt.db.connection() as conn:
        return conn.execute("SELECT prosrc FROM pg_proc WHERE proname = %s",
                            (function_names(integrator.client["app_id"], integrator.service["microservice"],
                                            integrator.service["route"])[0],)).fetchone()["prosrc"]


@pytest.mark.parametrize("template", DISGUISES.values(), ids=DISGUISES.keys())
def test_an_imported_file_cannot_replace_another_clients_function(rt, integrator, template):
    victim = function_names(integrator.client["app_id"], integrator.service["microservice"],
                            integrator.service["route"])[0]
    before = _source(rt, integrator)

    with pytest.raises(FunctionRefused):
        legacy.import_functions(rt, template.format(fn=victim), "attacker")

    assert _source(rt, integrator) == before
    response = integrator.pay()
    assert response.json().get("code") != "OWNED", response.text


def test_an_imported_file_leaves_no_setting_on_the_switchs_connection(rt):
    source = "SET default_transaction_read_only = on;\nSET application_name = pwned;\n" + \
        HIJACK.format(name="planted_settings")
    try:
        legacy.import_functions(rt, source, "attacker")
    except FunctionRefused:
        return
    for _ in range(rt.config.DB_POOL_MAX):  # every pooled connection the import might have used
        with rt.db.connection() as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone()["default_transaction_read_only"] \
                == "off"
            assert conn.execute("SHOW application_name").fetchone()["application_name"] != "pwned"
