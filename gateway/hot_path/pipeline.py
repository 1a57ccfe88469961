"""The one route pipeline: request function → forward → response function.

A payment, a reversal and a status query all run here; only what they do
with the result differs. Functions run in the sandbox pool, and no database
connection is held while the provider answers. Functions get the route's
provider credentials (``context.credentials``) and, when the route declares a
token step, the provider token (``context.auth.access_token``); a provider's 401
drops that token, and the call is built and sent once more with a fresh one.
"""

import enum
import time
from dataclasses import dataclass, field

from gateway.errors import FunctionError, InvalidCallSpec, MosPayError, ProviderAuthFailed
from gateway.functions import runner
from gateway.hot_path import call_spec
from gateway.hot_path.forwarder import FailureKind, ForwardResult
from gateway.hot_path.provider_tokens import TokenStepFailed

UNAUTHORIZED = 401


class Stage(enum.Enum):
    """Where a route run stopped with a function failure."""

    TOKEN = "token"
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
    token: str | None = field(default=None, repr=False)  # the provider token the call carried: masked in records

    @property
    def sent(self):
        """True when the call may have reached the provider."""
        return self.result is not None and self.result.sent


class RoutePipeline:
    """Runs one route's functions around one downstream call; ``sent`` tells, even after an exception,
    whether the call may have reached the provider."""

    def __init__(self, rt, route, context, lap=None):
        self.rt, self.route = rt, route
        self.context = {**context, "credentials": route.credentials} if route.credentials else context
        self.lap = lap or (lambda stage: None)
        self.sent = False
        self.token = None  # the provider token the last call carried, if the route has a token step

    def run(self, request, masked_request=None, call=None, builder=None):
        """Run the route for ``request``; ``call`` (a ready call spec) skips the request function.

        The request function (or ``builder``, another function of the same
        signature: the route's STATUS function) sees ``request`` (secrets
        included); the response function sees ``masked_request`` (default
        ``request``). A ready call, or a ``builder``'s, is sent once, without the
        route's retry policy (a status query).
        """
        self.context = with_currency(self.context, request, self.route)
        if call is None:
            prepared = self._prepare(request, builder)
            if prepared.kind != "call":
                return prepared
            spec, retry = prepared.spec, self.route.context["route"].get("retry") if builder is None else None
        else:
            spec, retry = call, None
        self.sent = True  # from here on, an exception leaves the outcome unknown
        result = self._forward(spec, retry)
        self.sent = result.sent
        if result.status_code == UNAUTHORIZED and self.token is not None and call is None:
            # An authentication refusal moved no money: drop the token, build the call again with a fresh one.
            self.rt.provider_tokens.invalidate(self.rt, self.route, self.token)
            self.sent = False
            prepared = self._prepare(request, builder)
            if prepared.kind != "call":
                return prepared
            spec = prepared.spec
            self.sent = True
            result = self._forward(spec, retry)
            self.sent = result.sent
        if result.failure is FailureKind.CIRCUIT_OPEN:
            return RouteRun("call", spec=spec, result=result, token=self.token)
        self.lap("forward")
        args = (request if masked_request is None else masked_request, result.as_json(), self.context)
        try:
            answer = call_spec.parse_answer(self._call(self.route.response_sql, args))
        except (runner.FunctionFailure, ValueError) as problem:
            detail = problem.detail if isinstance(problem, runner.FunctionFailure) else str(problem)
            failure = PipelineFailure(Stage.RESPONSE_FUNCTION, FunctionError("The route's response function failed."),
                                      detail)
            return RouteRun("call", spec=spec, result=result, failure=failure, token=self.token)
        self.lap("response_function")
        return RouteRun("call", spec=spec, result=result, answer=answer, token=self.token)

    def _forward(self, spec, retry=None):
        """Send one call through its upstream's circuit breaker: the route's call, or its token step."""
        return self.rt.forwarder.call(spec, retry)

    def _authenticate(self):
        """Put the provider token into the context (``context.auth``) when the route has a token step."""
        if self.route.token_step is None:
            return None
        try:
            self.token = self.rt.provider_tokens.token(self.rt, self.route, self._forward)
        except TokenStepFailed as failed:
            return RouteRun("failed", failure=PipelineFailure(Stage.TOKEN, ProviderAuthFailed(), failed.detail))
        self.context = {**self.context, "auth": {"access_token": self.token, "token_type": "Bearer"}}
        self.lap("token")
        return None

    def _prepare(self, request, builder=None):
        """The validated call to forward, or the run that ends before forwarding."""
        refused = self._authenticate()
        if refused is not None:
            return refused
        try:
            config = self.rt.config
            built = self._call(builder or self.route.request_sql, (request, self.context))
            kind, spec = call_spec.parse_call_spec(built, config.MAX_TIMEOUT_MS, config.MAX_UPSTREAM_BODY_BYTES)
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


def payment_currency(route, request):
    """The payment's currency: the route's currency field in the message, else its service's setting."""
    settings = route.context["route"]
    field = settings.get("currency_field")
    return (request.get(field) if field and isinstance(request, dict) else None) or settings.get("currency")


def with_currency(context, request, route):
    """``context`` with the payment's ``currency`` (``payment_currency``)."""
    currency = payment_currency(route, request)
    return {**context, "currency": currency} if currency and context.get("currency") != currency else context


def lap_timer(timings, start=None, on_lap=None):
    """A ``lap(stage)`` callable recording the ms since the previous lap into ``timings`` and returning the
    lap's end (perf_counter seconds); ``on_lap(stage, started, ended)`` hears of each one too (a payment's
    trace)."""
    mark = [start if start is not None else time.perf_counter()]

    def lap(stage):
        now = time.perf_counter()
        if on_lap is not None:
            on_lap(stage, mark[0], now)
        # A stage run again (a failover's second provider) adds to its time: the stages still sum to the total.
        timings[stage] = round(timings.get(stage, 0) + (now - mark[0]) * 1000, 3)
        mark[0] = now
        return now

    return lap
