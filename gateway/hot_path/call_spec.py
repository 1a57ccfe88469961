"""Checks what a request function returned before anything is sent."""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from gateway.hot_path.forwarder import METHODS
from gateway.hot_path.settlement import ANSWER_STATES

MAX_HEADERS = 50
# Client functions are tenant code: what they hand the switch is bounded like what a client sends.
MAX_CALL_BODY_BYTES = 1024 * 1024  # the default of MOSPAY_MAX_UPSTREAM_BODY_BYTES
MAX_ANSWER_DATA_BYTES = 64 * 1024  # an answer's data (and a callback's ack), as JSON: what the client receives
MAX_MESSAGE_CHARS = 500
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_call_spec(result, max_timeout_ms, max_body_bytes=MAX_CALL_BODY_BYTES):
    """``("call", spec)``, ``("reject", {"code", "message"})`` or ``("answer", answer)`` (answered without a
    downstream call); raises ``ValueError`` naming the problem (a body over ``max_body_bytes`` as JSON too)."""
    if not isinstance(result, dict):
        raise ValueError("the request function must return a JSON object")
    if "reject" in result:
        return "reject", _parse_reject(result["reject"])
    if "answer" in result:
        return "answer", parse_answer(result["answer"])
    url = result.get("url")
    if not isinstance(url, str) or not _is_http_url(url):
        raise ValueError("call spec 'url' must be an absolute http(s) URL")
    method = str(result.get("method", "POST")).upper()
    if method not in METHODS:
        raise ValueError(f"call spec 'method' must be one of {', '.join(METHODS)}")
    headers = result.get("headers") or {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS or not all(
        isinstance(k, str) and _HEADER_NAME.fullmatch(k) and isinstance(v, str) and _is_header_value(v)
        for k, v in headers.items()
    ):
        raise ValueError("call spec 'headers' must map header names to single-line latin-1 strings")
    timeout_ms = result.get("timeout_ms", max_timeout_ms)
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or not 1 <= timeout_ms <= max_timeout_ms:
        raise ValueError(f"call spec 'timeout_ms' must be an integer from 1 to {max_timeout_ms}")
    sensitive = result.get("sensitive") or []
    if not isinstance(sensitive, list) or len(sensitive) > MAX_HEADERS or not all(
            isinstance(p, str) and 0 < len(p) <= 200 for p in sensitive):
        raise ValueError("call spec 'sensitive' must be a list of dotted paths such as \"body.pin_block\"")
    body = result.get("body")
    if body is not None and _json_size(body) > max_body_bytes:
        raise ValueError(f"call spec 'body' must be at most {max_body_bytes} bytes as JSON")
    return "call", {"url": url, "method": method, "headers": headers, "body": body, "timeout_ms": timeout_ms,
                    "sensitive": sensitive}


def _json_size(value):
    return len(orjson.dumps(value))


def _is_http_url(url):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for an impossible port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_header_value(value):
    if "\r" in value or "\n" in value or "\x00" in value:
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _parse_reject(reject):
    if not isinstance(reject, dict) or not isinstance(reject.get("code"), str):
        raise ValueError("'reject' must be an object with a string 'code'")
    message = str(reject.get("message", "The payment was rejected."))[:MAX_MESSAGE_CHARS]
    return {"code": reject["code"][:64], "message": message}


def parse_answer(result):
    """The response function's answer, normalised; raises ``ValueError`` naming the problem."""
    if not isinstance(result, dict):
        raise ValueError("the response function must return a JSON object")
    status = result.get("status")
    if status not in ANSWER_STATES:
        raise ValueError(f"answer 'status' must be one of {', '.join(ANSWER_STATES)}")
    data = result.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("answer 'data' must be an object")
    if _json_size(data) > MAX_ANSWER_DATA_BYTES:
        raise ValueError(f"answer 'data' must be at most {MAX_ANSWER_DATA_BYTES} bytes as JSON")
    return {"status": status, "code": str(result.get("code") or status)[:64],
            "message": str(result.get("message") or "")[:MAX_MESSAGE_CHARS], "data": data}


CALLBACK_MATCH_KEYS = ("transaction_ref", "unique_id", "provider_ref")


@dataclass(frozen=True)
class CallbackResult:
    """What a callback function made of a provider's notification."""

    match_key: str  # transaction_ref, unique_id or provider_ref
    match_value: str
    answer: dict  # normalised like a response function's answer
    ack: object = None  # the JSON body to answer the provider with, if the function chose one


def parse_callback(result):
    """A callback function's result as a ``CallbackResult``; raises ``ValueError`` naming the problem."""
    answer = parse_answer(result)
    match = next(((key, result[key]) for key in CALLBACK_MATCH_KEYS
                  if isinstance(result.get(key), str) and result[key].strip()), None)
    if match is None:
        raise ValueError(f"the callback function must name the payment by one of {', '.join(CALLBACK_MATCH_KEYS)}")
    ack = result.get("ack")
    if ack is not None and not isinstance(ack, dict | list):
        raise ValueError("callback 'ack' must be a JSON object or array")
    if ack is not None and _json_size(ack) > MAX_ANSWER_DATA_BYTES:
        raise ValueError(f"callback 'ack' must be at most {MAX_ANSWER_DATA_BYTES} bytes as JSON")
    return CallbackResult(match[0], match[1].strip()[:200], answer, ack)
