"""Field definitions compile to validators that name every bad field."""

import pytest

from gateway.admin import schemas as admin_schemas
from gateway.errors import ValidationFailed
from gateway.hot_path.fields import check_field_definitions, compile_validator, validate_message

ENVELOPE = {"f000": "ms", "f001": "svc", "f002": "route", "f003": "app", "f010": "tx-1"}


def problems(fields, **message):
    try:
        validate_message(compile_validator(fields), {**ENVELOPE, **message})
    except ValidationFailed as error:
        return error.details
    return {}


@pytest.mark.parametrize("value, ok", [
    ("10", True), ("10.50", True), (10, True), ("0.0001", False), ("1e3", False), (10.5, False),
    (True, False), ("", False), ("01", False), ("1000001", False),
])
def test_amounts_are_exact_decimals_within_bounds(value, ok):
    fields = [{"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "0.01", "max": 1000000}]
    assert (problems(fields, f004=value) == {}) is ok


def test_a_custom_pattern_adds_to_the_type_pattern():
    fields = [{"code": "f006", "name": "msisdn", "type": "msisdn", "pattern": "^2507"}]
    assert problems(fields, f006="250788123456") == {}
    assert problems(fields, f006="254788123456") == {"f006": "has an invalid format"}


def test_enums_and_lengths():
    fields = [{"code": "f005", "name": "c", "type": "enum", "values": ["RWF", "USD"]},
              {"code": "f009", "name": "n", "type": "string", "min": 2, "max": 4}]
    assert problems(fields, f005="EUR", f009="x") == {"f005": "must be one of RWF, USD",
                                                      "f009": "must be at least 2 characters"}


def test_fields_a_service_does_not_define_are_refused():
    """A service that defines its own rules takes exactly those (one without any takes the standard message)."""
    assert problems([{"code": "f009", "name": "note", "type": "string"}], f004="1") == {
        "f004": "is not a field of this service"}


def test_definitions_are_checked_field_by_field():
    assert check_field_definitions("nope") == {"fields": "must be a list of field definitions"}
    assert check_field_definitions([{"code": "f004", "name": "a", "type": "enum"}]) == {
        "fields[0].values": "must be a non-empty list of strings for an enum"}
    assert check_field_definitions([{"code": "f004", "name": "a", "type": "amount", "min": "1"}]) == {}


@pytest.mark.parametrize("field", [
    {"code": "f004", "name": "amount", "type": "amount", "min": "100", "max": "5.5"},
    {"code": "f009", "name": "narration", "type": "string", "min": 10, "max": "3"},
])
def test_min_greater_than_max_is_refused_naming_the_field(field):
    assert check_field_definitions([field]) == {
        "fields[0].min": f"{field['name']}: min {field['min']} is greater than max {field['max']}"}
    assert check_field_definitions([{**field, "max": field["min"]}]) == {}


@pytest.mark.parametrize("code", ["f007", "f008"])
@pytest.mark.parametrize("kind", [None, "string", "integer"])
def test_f007_and_f008_must_be_secret(code, kind):
    field = {"code": code, "name": "note", **({"type": kind} if kind else {})}
    problem = check_field_definitions([field])["fields[0].type"]
    assert f"{code} is always secret" in problem and "type must be secret" in problem
    assert check_field_definitions([{**field, "type": "secret"}]) == {}


def test_a_service_payload_names_every_problem_at_once():
    payload = {"microservice": "Bad Name", "service": "s", "route": "r", "url": "ftp://x",
               "fields": [{"code": "f004", "name": "a", "type": "amount", "min": "9", "max": "1"},
                          {"code": "f007", "name": "note"}]}
    with pytest.raises(ValidationFailed) as raised:
        validate_message(admin_schemas.SERVICE_CREATE, payload)
    assert set(raised.value.details) == {"microservice", "url", "fields[0].min", "fields[1].type"}


def test_field_patterns_run_on_re2_in_linear_time():
    # (a+)+$ backtracks for ever on Python's re; RE2 answers at once.
    fields = [{"code": "f009", "name": "narration", "type": "string", "pattern": "^(a+)+$"}]
    assert problems(fields, f009="a" * 40 + "!") == {"f009": "has an invalid format"}
    assert problems(fields, f009="aaaa") == {}


def test_python_end_anchor_is_accepted_as_re2s():
    fields = [{"code": "f009", "name": "ref", "type": "string", "pattern": r"^x\Z"}]
    assert check_field_definitions(fields) == {}
    assert problems(fields, f009="x") == {}
    assert problems(fields, f009="x\n") == {"f009": "has an invalid format"}


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "(?<!b)a", "(", "a{1000}{1000}"])
def test_patterns_re2_cannot_run_are_refused_naming_the_field(pattern):
    fields = [{"code": "f009", "name": "narration", "type": "string", "pattern": pattern}]
    problem = check_field_definitions(fields)["fields[0].pattern"]
    assert problem.startswith("narration: must be a valid regular expression for RE2, the linear-time engine")


def test_a_service_without_field_rules_takes_the_original_mospay_message():
    """f004 amount (required, decimal), f005 mobile number, f006 username, f007/f008 secrets, f009 device id."""
    validator = compile_validator([])
    envelope = {"f000": "ms", "f001": "collection", "f002": "payment", "f003": "app", "f010": "tx-1"}

    validate_message(validator, {**envelope, "f004": "1500.50", "f005": "250788123456", "f006": "alice",
                                 "f007": "x9", "f008": "pin", "f009": "device-7"})
    with pytest.raises(ValidationFailed) as refused:
        validate_message(validator, {**envelope, "f005": "not a number", "f011": "x"})
    assert set(refused.value.details) == {"f004", "f005", "f011"}


# The fast path must never accept what the full validator refuses, and should accept what it accepts.
QUICK_FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "1", "max": "5000.50"},
    {"code": "f005", "name": "msisdn", "type": "msisdn"},
    {"code": "f006", "name": "plan", "type": "enum", "values": ["gold", "silver"]},
    {"code": "f007", "name": "pin", "type": "secret", "min": "4", "max": "6"},
    {"code": "f008", "name": "otp", "type": "secret", "pattern": "^[0-9]+$"},
    {"code": "f009", "name": "note", "type": "string", "max": "10"},
]
QUICK_VALUES = ["", "0", "1", "1.5", "5000.50", "5000.51", "1e3", "NaN", "12345678901", "+250788123456",
                "gold", "GOLD", "silver ", "12345", "1234567", "abc", "\x00", "x" * 11, "é" * 10, "a\nb",
                0, 1, 5000, 5001, -1, True, False, None, 1.5, 5e3, [], {}, ["gold"]]
ENVELOPE = {"f000": "ms", "f001": "svc", "f002": "route", "f003": "app", "f010": "u-1"}


def _full_verdict(validator, message):
    return not any(True for _ in validator.full.iter_errors(message))


def test_the_fast_path_agrees_with_jsonschema_on_every_generated_message():
    import itertools
    import random

    validator = compile_validator(QUICK_FIELDS)
    assert validator.accepts is not None
    rng = random.Random(16)
    messages = [dict(ENVELOPE, f004="10")]
    for code, value in itertools.product([f["code"] for f in QUICK_FIELDS] + list(ENVELOPE), QUICK_VALUES):
        messages.append({**ENVELOPE, "f004": "10", code: value})
    for _ in range(3000):  # several fields off at once, some missing, some unknown
        message = dict(ENVELOPE)
        for code in [f["code"] for f in QUICK_FIELDS] + list(ENVELOPE) + ["f011", "x"]:
            roll = rng.random()
            if roll < 0.3:
                message.pop(code, None)
            elif roll < 0.6:
                message[code] = rng.choice(QUICK_VALUES)
        messages.append(message)
    messages += [None, [], "text", 7]
    accepted = 0
    for message in messages:
        full = _full_verdict(validator, message)
        assert validator.accepts(message) == full, message
        accepted += full
    assert accepted > 20  # the sample holds good messages too, not only bad ones


def test_a_bad_message_still_gets_every_problem_named():
    with pytest.raises(ValidationFailed) as raised:
        validate_message(compile_validator(QUICK_FIELDS), {**ENVELOPE, "f004": "0", "f006": "bronze", "f011": "x"})
    assert raised.value.details == {"f004": "must be at least 1", "f006": "must be one of gold, silver",
                                    "f011": "is not a field of this service"}
