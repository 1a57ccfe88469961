"""The shape of the package: one settlement home, one pipeline, no import cycles."""

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"


def module_name(path):
    parts = path.relative_to(GATEWAY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path, modules):
    """Modules imported when ``path`` is imported (function-level imports are deliberate late bindings).

    ``from package import submodule`` counts as importing the submodule only.
    """
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found & modules


@pytest.fixture(scope="module")
def graph():
    modules = {module_name(p): p for p in GATEWAY.rglob("*.py")}
    return {name: top_level_imports(path, set(modules)) - {name} for name, path in modules.items()}


def test_the_import_graph_has_no_cycle(graph):
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        if node in done:
            return
        if node in visiting:
            cycles.append(trail[trail.index(node):] + [node])
            return
        visiting.add(node)
        for child in graph[node]:
            visit(child, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])
    assert not cycles, cycles


def test_the_job_runner_imports_none_of_its_handlers():
    """Handlers register themselves (``@jobs.handler``); the runner does not import back, not even late."""
    tree = ast.parse((GATEWAY / "follow_up" / "jobs.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom | ast.Import)
                for alias in node.names}
    handlers = {"deliveries", "unknown_outcome"}
    assert not imported & {*handlers, *(f"gateway.follow_up.{name}" for name in handlers)}


@pytest.mark.parametrize("fact, home", [
    ("Q.settle_transaction", "settlement.py"),
    ("STATUS_HTTP = ", "settlement.py"),
    ("forwarder.call(", "pipeline.py"),
])
def test_each_job_has_one_home(fact, home):
    """Settling a payment and running a route are written once; everything else calls them."""
    holders = sorted(p.name for p in GATEWAY.rglob("*.py") if fact in p.read_text())
    assert holders == [home], f"{fact!r} appears in {holders}"


def test_the_tree_shows_the_lifecycle():
    """A newcomer sees the hot path, the follow-up work and administration as folders, tests mirroring them."""
    tests = GATEWAY.parent / "tests"
    for package, modules in {"hot_path": ("payments", "pipeline", "settlement", "forwarder", "client_auth"),
                             "follow_up": ("jobs", "deliveries", "unknown_outcome", "recovery", "provider_callbacks",
                                           "status_query"),
                             "admin": ("onboarding", "users", "routes_config", "reports")}.items():
        assert all((GATEWAY / package / f"{m}.py").is_file() for m in modules), package
        assert (tests / package).is_dir(), f"tests/{package} should mirror gateway/{package}"
    assert len(list(GATEWAY.glob("*.py"))) <= 12, "modules at the top are the infrastructure only"
