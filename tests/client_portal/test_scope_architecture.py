"""The client portal reaches data only through the scoped service layer.

Its views may call ``client_scope`` (every read names the signed-in user's client), ``client_users`` and
``two_factor``; a view importing the admin reports, onboarding or deliveries directly could forget the scope,
so that is refused here rather than found by an integrator.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gateway" / "client_portal"
ALLOWED = {"gateway.admin.client_scope", "gateway.admin.client_users", "gateway.admin.two_factor"}
UNSCOPED = ("gateway.admin", "gateway.follow_up", "gateway.db", "gateway.hot_path")


def imported_modules(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" if node.module in ("gateway.admin", "gateway.follow_up")
                         else node.module for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_client_portal_views_use_only_the_scoped_services():
    for path in PACKAGE.glob("*.py"):
        reached = {m for m in imported_modules(path) if m.startswith(UNSCOPED)}
        # deliveries.STATES (a tuple of names) is the one constant the callbacks page needs.
        assert reached - ALLOWED - {"gateway.follow_up.deliveries"} == set(), path.name
    assert "deliveries." not in (PACKAGE / "views.py").read_text().replace("deliveries.STATES", "")
