"""EXPLAIN of every filter combination of the composed lists on the loaded database: which index serves it."""

import datetime as dt
import json
import sys

from .common import REPO, log


def _indexes(plan):
    """Index names a JSON plan reads, depth first; 'Seq Scan on …' when it scans a table."""
    found = []
    if "Index Name" in plan:
        found.append(plan["Index Name"])
    elif plan.get("Node Type") == "Seq Scan":
        found.append(f"Seq Scan on {plan['Relation Name']}")
    for child in plan.get("Plans", []):
        found += _indexes(child)
    return found


def explain(db, app_id, service, unique_id, ref):
    """``[(list and filters, ms, indexes)]`` for the first page of each filter combination (EXPLAIN ANALYZE)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from gateway.admin import lists
    from gateway.db import compose

    day = dt.date.today() - dt.timedelta(days=45)
    combos = [("transactions", {}), ("transactions", {"app_id": app_id}), ("transactions", {"service": service}),
              ("transactions", {"status": "FAILED"}), ("transactions", {"date_from": day, "date_to": day}),
              ("transactions", {"unique_id": unique_id}), ("transactions", {"ref": ref}),
              ("transactions", {"app_id": app_id, "status": "PENDING"}),
              ("transactions", {"app_id": app_id, "service": service, "status": "SUCCESS"}),
              ("api_logs", {}), ("api_logs", {"app_id": app_id}), ("api_logs", {"http_status": 502}),
              ("api_logs", {"date_from": day, "date_to": day})]
    results = []
    with db.connect() as conn:
        for name, filters in combos:
            if "service" in filters:  # looked up first, as reports.transactions does (lists.with_route_ids)
                ids = conn.execute(compose.compiled(lists.route_ids_of(filters["service"]))[0],
                                   compose.compiled(lists.route_ids_of(filters["service"]))[1]).fetchall()
                filters = {**filters, "route_ids": [row[0] for row in ids]}
            query = getattr(lists, f"{name}_query")(filters)
            table = lists.T if name == "transactions" else lists.L
            statement = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(26)
            sql, params = compose.compiled(statement)
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0][0]
            label = f"{name} {json.dumps({k: v for k, v in filters.items() if k != 'route_ids'}, default=str)}"
            results.append({"list": label, "ms": plan["Execution Time"], "indexes": _indexes(plan["Plan"])})
            log(f"EXPLAIN {label}: {plan['Execution Time']:.1f} ms via {', '.join(_indexes(plan['Plan']))}")
    return results
