"""The one route pipeline: request function → forward → response function.

A payment, a reversal and a status query all run here; only what they do
with the result differs. Functions run in the sandbox pool, and no database
connection is held while the provider answers.
"""

import enum
import time
from dataclasses import dataclass

from gateway.errors import FunctionError, InvalidCallSpec, MosPayError
from gateway.functions import runner
from gateway.hot_path import call_spec
from gateway.hot_path.forwarder import FailureKind, ForwardResult


class Stage(enum.Enum):
    """Where a route run stopped with a function failure."""

    REQUEST_FUNCTION = "request_function"
    RESPONSE_FUNCTION = "response_function"


@dataclass(frozen=True)
class PipelineFailure:
    """A function failed: ``error`` is what the client sees, ``detail`` what admins see."""

    stage: Stage
    error: MosPayError
    detail: str


@dataclass(frozen=True)
class RouteRun:
    """What one run produced.

    ``kind`` is ``call`` (something was forwarded, or refused by the circuit),
    ``reject`` (the request function refused: ``reject`` holds code and message),
    ``answer`` (the request function answered by itself) or ``failed``
    (a function failed before anything was forwarded: see ``failure``).
    """

    kind: str
    spec: dict | None = None  # the call that was forwarded
    result: ForwardResult | None = None
    answer: dict | None = None  # normalised: the response function's, or the request function's own
    reject: dict | None = None
    failure: PipelineFailure | None = None

    @property
    def sent(self):
        """True when the call may have reached the provider."""
        return self.result is not None and self.result.sent


class RoutePipeline:
    """Runs one route's functions around one downstream call; ``sent`` tells, even after an exception,
    whether the call may have reached the provider."""

    def __init__(self, rt, route, context, lap=None):
        self.rt, self.route, self.context = rt, route, context
        self.lap = lap or (lambda stage: None)
        self.sent = False

    def run(self, request, masked_request=None, call=None):
        """Run the route for ``request``; ``call`` (a ready call spec) skips the request function.

        The request function sees ``request`` (secrets included); the response
        function sees ``masked_request`` (default ``request``). A ready call is
        sent once, without the route's retry policy (a status query).
        """
        if call is None:
            prepared = self._prepare(request)
            if prepared.kind != "call":
                return prepared
            spec, retry = prepared.spec, self.route.context["route"].get("retry")
        else:
            spec, retry = call, None
        self.sent = True  # from here on, an exception leaves the outcome unknown
        result = self.rt.forwarder.call(spec, retry)
        self.sent = result.sent
        if result.failure is FailureKind.CIRCUIT_OPEN:
            return RouteRun("call", spec=spec, result=result)
        self.lap("forward")
        args = (request if masked_request is None else masked_request, result.as_json(), self.context)
        try:
            answer = call_spec.parse_answer(self._call(self.route.response_sql, args))
        except (runner.FunctionFailure, ValueError) as problem:
            detail = problem.detail if isinstance(problem, runner.FunctionFailure) else str(problem)
            failure = PipelineFailure(Stage.RESPONSE_FUNCTION, FunctionError("The route's response function failed."),
                                      detail)
            return RouteRun("call", spec=spec, result=result, failure=failure)
        self.lap("response_function")
        return RouteRun("call", spec=spec, result=result, answer=answer)

    def _prepare(self, request):
        """The validated call to forward, or the run that ends before forwarding."""
        try:
            config = self.rt.config
            kind, spec = call_spec.parse_call_spec(self._call(self.route.request_sql, (request, self.context)),
                                                   config.MAX_TIMEOUT_MS, config.MAX_UPSTREAM_BODY_BYTES)
        except runner.FunctionFailure as failure:
            return RouteRun("failed", failure=PipelineFailure(Stage.REQUEST_FUNCTION, failure.error, failure.detail))
        except ValueError as problem:
            return RouteRun("failed", failure=PipelineFailure(Stage.REQUEST_FUNCTION, InvalidCallSpec(), str(problem)))
        self.lap("request_function")
        if kind == "call":
            return RouteRun("call", spec=spec)
        return RouteRun(kind, **{kind: spec})

    def _call(self, query, args):
        return runner.run(self.rt, self.rt.registry.client(self.route.app_id), query, args)


def lap_timer(timings, start=None):
    """A ``lap(stage)`` callable recording the ms since the previous lap into ``timings``."""
    mark = [start if start is not None else time.perf_counter()]

    def lap(stage):
        now = time.perf_counter()
        # A stage run again (a failover's second provider) adds to its time: the stages still sum to the total.
        timings[stage] = round(timings.get(stage, 0) + (now - mark[0]) * 1000, 3)
        mark[0] = now

    return lap
