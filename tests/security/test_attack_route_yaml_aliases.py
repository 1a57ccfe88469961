"""A route's YAML (portal route editor, route-config apply) cannot be an alias bomb.

A few hundred bytes of nested YAML aliases expand, once validated, into millions of values: the
portal's route editor spent seconds of CPU and a gigabyte per level on 470 bytes, enough for one
write-role user to stop the serving process. Route files need no aliases: they are refused.
"""

import time

import pytest

from gateway.admin import routes_config


def _bomb(depth):
    lines = ["anchors:", "  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, depth + 1)]
    return "\n".join(lines) + f"\nkey: *a{depth}\n"


def test_an_alias_bomb_is_refused_at_once(rt):
    key = {"app_id": "acme", "microservice": "ms", "service": "s", "route": "r"}
    started = time.monotonic()

    with pytest.raises(routes_config.RouteConfigError, match="aliases"):
        routes_config.save(rt.db, rt.config.ROUTES_DIR, key, _bomb(7), "attacker")

    assert time.monotonic() - started < 2


def test_a_route_file_with_aliases_is_refused(tmp_path):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "ms_s_r.yaml").write_text(_bomb(2))

    with pytest.raises(routes_config.RouteConfigError, match="aliases"):
        routes_config.read_all(tmp_path)
