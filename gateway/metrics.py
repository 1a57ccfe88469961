"""Prometheus metrics at ``/metrics`` (multiprocess-safe across the server's worker processes).

Set ``PROMETHEUS_MULTIPROC_DIR`` (``python app.py`` does) and every worker
writes its samples there; ``/metrics`` aggregates them, after forgetting the
live gauges of workers that have died. Without it the process's own registry
is served.
"""

import logging
import os
from pathlib import Path

import psycopg
from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from gateway.errors import DatabaseUnavailable
from gateway.follow_up import partitions
from gateway.hot_path.circuit import CLOSED, HALF_OPEN, OPEN
from gateway.runtime import runtime

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("mospay_http_requests_total", "HTTP requests by endpoint and status",
                        ["endpoint", "method", "status"])
PAYMENTS = Counter("mospay_payments_total", "Payments by client, service and final state",
                   ["app_id", "service", "status"])
STAGE_SECONDS = Histogram("mospay_stage_seconds", "Time spent in each stage of a payment", ["stage"],
                          buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CIRCUIT_STATE = Gauge("mospay_circuit_state", "Upstream circuit: 0 closed, 1 half-open, 2 open", ["upstream"],
                      multiprocess_mode="max")
POOL_CONNECTIONS = Gauge("mospay_db_pool_connections", "Database pool connections", ["pool", "state"],
                         multiprocess_mode="livesum")
# Counted at each scrape (capped: partitions.DEFAULT_ROWS_CAP); the latest scrape's answer stands, whichever process.
PARTITION_DEFAULT_ROWS = Gauge("mospay_partition_default_rows",
                               "Rows in each table's DEFAULT partition, counted up to a cap: above 0, traffic fell "
                               "outside every partition (partition maintenance is behind)", ["table"],
                               multiprocess_mode="mostrecent")
_CIRCUIT_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

bp = Blueprint("metrics", __name__)


_STAGE_CHILDREN = {}  # stage → its histogram child: labels() costs as much as an observation


_PAYMENT_CHILDREN = {}  # (app id, route, status) → its counter child; as many as the counter has anyway


def observe_payment(app_id, service, status, timings_ms):
    """Count a finished payment and its stage timings."""
    key = (app_id, service, status)
    child = _PAYMENT_CHILDREN.get(key)
    if child is None:
        child = _PAYMENT_CHILDREN[key] = PAYMENTS.labels(app_id, service, status)
    child.inc()
    for stage, milliseconds in timings_ms.items():
        child = _STAGE_CHILDREN.get(stage)
        if child is None:
            child = _STAGE_CHILDREN[stage] = STAGE_SECONDS.labels(stage)
        child.observe(milliseconds / 1000)


def observe_request(endpoint, method, status):
    """Count an HTTP request."""
    HTTP_REQUESTS.labels(endpoint or "unmatched", method, str(status)).inc()


def _refresh_gauges(rt):
    for (scheme, host, port), state in rt.forwarder.circuits.states().items():
        CIRCUIT_STATE.labels(f"{scheme}://{host}:{port}").set(_CIRCUIT_VALUES[state])
    pools = {rt.db.pool.name: rt.db.pool.get_stats(), "mospay-functions": rt.tenants.stats()}
    for name, stats in pools.items():
        POOL_CONNECTIONS.labels(name, "size").set(stats.get("pool_size", 0))
        POOL_CONNECTIONS.labels(name, "available").set(stats.get("pool_available", 0))
        POOL_CONNECTIONS.labels(name, "waiting").set(stats.get("requests_waiting", 0))


def _refresh_default_partitions(rt):
    """The DEFAULT partitions' row counts; a database that does not answer leaves the last ones (and the rest of
    /metrics, which matters most then, is still served)."""
    try:
        counted = partitions.default_rows(rt)
    except (DatabaseUnavailable, psycopg.Error) as error:
        log.warning("metrics: DEFAULT partition rows not counted: %s", type(error).__name__)
        return
    for table, rows in counted.items():
        PARTITION_DEFAULT_ROWS.labels(table).set(rows)


def forget_dead_processes(directory):
    """Drop the live gauges (pool sizes) of processes that no longer run: a worker that died and was replaced."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@bp.get("/metrics")
def metrics():
    """Prometheus text format."""
    rt = runtime()
    _refresh_gauges(rt)
    _refresh_default_partitions(rt)
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        forget_dead_processes(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app):
    """Serve /metrics and count every request."""
    from flask import request

    app.register_blueprint(bp)

    @app.after_request
    def _count(response):
        observe_request(request.url_rule.rule if request.url_rule else None, request.method, response.status_code)
        return response
