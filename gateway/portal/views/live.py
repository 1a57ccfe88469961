"""Server-sent events that keep the transactions page live."""

from flask import Response, request

from gateway.admin import live
from gateway.portal.blueprint import bp
from gateway.runtime import runtime


@bp.get("/live/transactions")
def transactions_stream():
    """``text/event-stream`` of new transactions and state changes of ``?refs=`` (the page's rows)."""
    response = Response(live.stream(runtime(), live.watched_refs(request.args.get("refs")),
                                    request.headers.get("Last-Event-ID")), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must not hold events back
    return response
