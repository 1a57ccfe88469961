"""What a request function may ask the switch to send, and what a response function may answer."""

import pytest

from gateway.hot_path.call_spec import parse_answer, parse_call_spec


def test_a_valid_call_gets_defaults():
    kind, spec = parse_call_spec({"url": "http://p.example/pay", "body": {"a": 1}}, 5000)
    assert kind == "call" and spec == {"url": "http://p.example/pay", "method": "POST", "headers": {},
                                       "body": {"a": 1}, "timeout_ms": 5000, "sensitive": []}


@pytest.mark.parametrize("sensitive", ["body.pin", [1], ["x" * 201], [""]])
def test_sensitive_paths_must_be_a_list_of_dotted_paths(sensitive):
    with pytest.raises(ValueError, match="sensitive"):
        parse_call_spec({"url": "http://p.example/pay", "sensitive": sensitive}, 5000)


def test_a_reject_is_passed_on():
    assert parse_call_spec({"reject": {"code": "LIMIT", "message": "no"}}, 5000) == (
        "reject", {"code": "LIMIT", "message": "no"})


@pytest.mark.parametrize("result", [
    None, [], {"url": "ftp://x/y"}, {"url": "/relative"}, {"url": "http://x", "method": "TRACE"},
    {"url": "http://x", "headers": {"a": "b\r\nInjected: 1"}}, {"url": "http://x", "timeout_ms": 999999},
    {"url": "http://x", "timeout_ms": "5"}, {"reject": "no"},
])
def test_invalid_calls_are_refused(result):
    with pytest.raises(ValueError):
        parse_call_spec(result, 5000)


@pytest.mark.parametrize("result", [None, {"status": "OK"}, {"status": "SUCCESS", "data": [1]}])
def test_invalid_answers_are_refused(result):
    with pytest.raises(ValueError):
        parse_answer(result)


def test_an_answer_is_normalised():
    assert parse_answer({"status": "PENDING"}) == {"status": "PENDING", "code": "PENDING", "message": "", "data": {}}


@pytest.mark.parametrize("result", [
    {"url": "http://host:99999/x"}, {"url": "http://x", "headers": {"Bad Name": "v"}},
    {"url": "http://x", "headers": {"X-Name": "caf\u00e9 \u20ac"}},
])
def test_calls_the_http_client_would_choke_on_are_refused_before_sending(result):
    with pytest.raises(ValueError):
        parse_call_spec(result, 5000)
