"""Field definitions (f004–f009) → JSON Schema → compiled validators.

A service declares its fields in the admin API; they compile once, when
the route table loads, into a Draft 2020-12 validator. ``f000``–``f003``
and ``f010`` form the envelope every message shares. Amounts are decimal
strings (or integers): a float would be a guess about money.
"""

import functools
import re
from decimal import Decimal, InvalidOperation

import re2
from jsonschema import Draft202012Validator, ValidationError, validators

from gateway.errors import ValidationFailed
from gateway.naming import MAX_PART_LENGTH, NAME_PART

ENVELOPE_CODES = ("f000", "f001", "f002", "f003", "f010")
SERVICE_CODES = ("f004", "f005", "f006", "f007", "f008", "f009")
SECRET_CODES = ("f007", "f008")
MAX_STRING = 256

_TYPE_SCHEMAS = {
    "string": {"type": "string", "pattern": r"^[^\x00]*\Z"},
    "secret": {"type": "string", "pattern": r"^[^\x00]*\Z"},
    "amount": {"type": ["string", "integer"], "pattern": r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?\Z"},
    "integer": {"type": "integer"},
    "msisdn": {"type": "string", "pattern": r"^\+?[1-9][0-9]{7,14}\Z"},
    "currency": {"type": "string", "pattern": r"^[A-Z]{3}\Z"},
    "email": {"type": "string", "pattern": r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}\Z"},
    "date": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"},
    "enum": {"type": "string"},  # values are checked by "enum"
}
FIELD_TYPES = tuple(_TYPE_SCHEMAS)
_FIELD_KEYS = {"code", "name", "type", "required", "pattern", "min", "max", "values", "description"}
MAX_PATTERN = 200
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the admin's 400, not a line on the server's stderr
_RE2_OPTIONS.max_mem = 1 << 20  # a huge repetition ("a{1000}{1000}") is refused, not built
_PYTHON_END = re.compile(r"(?<!\\)((?:\\\\)*)\\Z")  # Python's \Z (an unescaped one) is RE2's \z

ENVELOPE_SCHEMA = {
    "f000": {"type": "string", "pattern": NAME_PART.pattern, "maxLength": MAX_PART_LENGTH},
    "f001": {"type": "string", "pattern": NAME_PART.pattern, "maxLength": MAX_PART_LENGTH},
    "f002": {"type": "string", "pattern": NAME_PART.pattern, "maxLength": MAX_PART_LENGTH},
    "f003": {"type": "string", "pattern": NAME_PART.pattern, "maxLength": MAX_PART_LENGTH},
    "f010": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z"},
}


def _decimal_range(validator, bounds, instance, schema):
    """Custom keyword ``x-decimal-range``: compare amounts exactly, as decimals."""
    if isinstance(instance, bool) or not isinstance(instance, (str, int)):
        return
    try:
        value = Decimal(str(instance))
    except InvalidOperation:
        return  # the pattern reports it
    if not value.is_finite():
        return  # "NaN" and "Infinity" fail the pattern
    if "min" in bounds and value < Decimal(str(bounds["min"])):
        yield ValidationError(f"must be at least {bounds['min']}")
    if "max" in bounds and value > Decimal(str(bounds["max"])):
        yield ValidationError(f"must be at most {bounds['max']}")


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern):
    """An admin's field pattern compiled by RE2, which runs in linear time: no pattern can freeze a worker.

    Python's ``\\Z`` is accepted as RE2's ``\\z``; anything else RE2 cannot compile (backreferences,
    lookaround) raises ``ValueError`` with RE2's reason.
    """
    try:
        return re2.compile(_PYTHON_END.sub(r"\1\\z", pattern), _RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else error
        raise ValueError(str(reason)) from None


def _field_pattern(validator, pattern, instance, schema):
    """Custom keyword ``x-field-pattern``: JSON Schema's ``pattern`` (a search), on RE2 instead of ``re``."""
    if not isinstance(instance, str):
        return
    try:
        matched = compile_pattern(pattern).search(instance) is not None
    except ValueError:
        matched = False  # stored before patterns were checked with RE2: refuse rather than guess
    if not matched:
        yield ValidationError("does not match the field's pattern")  # never echo the value: it may be a PIN


def _max_bytes(validator, limit, instance, schema):
    """Custom keyword ``x-max-bytes``: a string's UTF-8 length (bcrypt reads 72 bytes, not 72 characters)."""
    if isinstance(instance, str) and len(encoded := instance.encode("utf-8", "surrogatepass")) > limit:
        yield ValidationError(f"must be at most {limit} bytes in UTF-8 (this one is {len(encoded)} bytes)")


def _field_definitions(validator, enabled, instance, schema):
    """Custom keyword ``x-field-definitions``: an admin's field list, checked with the rest of the payload."""
    if enabled and isinstance(instance, list):
        for key, message in check_field_definitions(instance).items():
            yield ValidationError(message, path=[key])


def _is_int(checker, instance):
    # JSON 5e9 parses as a float: it is not an integer amount, whatever its value.
    return isinstance(instance, int) and not isinstance(instance, bool)


FieldValidator = validators.extend(
    Draft202012Validator,
    {"x-decimal-range": _decimal_range, "x-field-definitions": _field_definitions, "x-field-pattern": _field_pattern,
     "x-max-bytes": _max_bytes},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_int),
)


def check_field_definitions(fields):
    """Problems in an admin's field list as ``{"fields[i].key": message}`` (empty when fine)."""
    problems = {}
    if not isinstance(fields, list):
        return {"fields": "must be a list of field definitions"}
    seen = set()
    for index, field in enumerate(fields):
        where = f"fields[{index}]"
        if not isinstance(field, dict):
            problems[where] = "must be an object"
            continue
        for key in sorted(set(field) - _FIELD_KEYS):
            problems[f"{where}.{key}"] = "is not a known field property"
        code = field.get("code")
        if code not in SERVICE_CODES:
            problems[f"{where}.code"] = f"must be one of {', '.join(SERVICE_CODES)}"
        elif code in seen:
            problems[f"{where}.code"] = f"{code} is defined twice"
        seen.add(code)
        problems.update(_check_field_properties(field, where))
    return problems


def _check_field_properties(field, where):
    problems = {}
    if field.get("type", "string") not in FIELD_TYPES:
        problems[f"{where}.type"] = f"must be one of {', '.join(FIELD_TYPES)}"
    name = field.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        problems[f"{where}.name"] = "must be a string of 1 to 64 characters"
    if not isinstance(field.get("required", False), bool):
        problems[f"{where}.required"] = "must be true or false"
    if "pattern" in field:
        problems.update(_check_pattern(field, where))
    length_bounds = field.get("type", "string") in ("string", "secret")
    for bound in ("min", "max"):
        if bound in field:
            value = field[bound]
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not _is_decimal(value):
                problems[f"{where}.{bound}"] = "must be a number (integer or decimal string)"
            elif length_bounds and not (str(value).isdigit() and int(value) <= 10_000):
                problems[f"{where}.{bound}"] = "must be a whole number of characters (0 to 10000) for strings"
    problems.update(_check_bounds_order(field, where))
    if field.get("code") in SECRET_CODES and field.get("type", "string") != "secret":
        problems[f"{where}.type"] = (f"{field['code']} is always secret (masked everywhere, never forwarded "
                                     "unless the request function sends it): its type must be secret")
    if field.get("type") == "enum":
        values = field.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            problems[f"{where}.values"] = "must be a non-empty list of strings for an enum"
    return problems


def _check_pattern(field, where):
    pattern = field["pattern"]
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        return {f"{where}.pattern": f"must be a valid regular expression of at most {MAX_PATTERN} characters"}
    try:
        compile_pattern(pattern)
    except ValueError as error:
        name = field.get("name") if isinstance(field.get("name"), str) else field.get("code")
        return {f"{where}.pattern": (f"{name}: must be a valid regular expression for RE2, the linear-time engine "
                                     f"field patterns run on ({error}; backreferences and lookaround are not "
                                     "supported)")}
    return {}


def _check_bounds_order(field, where):
    """``min`` greater than ``max`` would refuse every value: name the field instead."""
    if not ({"min", "max"} <= set(field) and _is_decimal(field["min"]) and _is_decimal(field["max"])):
        return {}
    if Decimal(str(field["min"])) > Decimal(str(field["max"])):
        name = field.get("name") if isinstance(field.get("name"), str) else field.get("code")
        return {f"{where}.min": f"{name}: min {field['min']} is greater than max {field['max']}"}
    return {}


def _is_decimal(value):
    try:
        return Decimal(str(value)).is_finite()
    except InvalidOperation:
        return False


def field_schema(field):
    """JSON Schema of one field definition."""
    kind = field.get("type", "string")
    schema = dict(_TYPE_SCHEMAS[kind])
    if kind == "enum":
        schema["enum"] = list(field["values"])
    if "pattern" in field:
        schema["x-field-pattern"] = field["pattern"]  # alongside the type's own (trusted) pattern
    bounds = {k: field[k] for k in ("min", "max") if k in field}
    if kind in ("amount", "integer") and bounds:
        schema["x-decimal-range"] = bounds
    elif kind != "enum":
        schema["maxLength"] = int(bounds.get("max", MAX_STRING)) if kind in ("string", "secret") else MAX_STRING
        if kind in ("string", "secret") and "min" in bounds:
            schema["minLength"] = int(bounds["min"])
    return schema


# The original MosPay's message: what a service created without field rules accepts.
STANDARD_FIELDS = (
    {"code": "f004", "name": "amount", "type": "amount", "required": True},
    {"code": "f005", "name": "mobile number", "type": "msisdn"},
    {"code": "f006", "name": "username", "type": "string"},
    {"code": "f007", "name": "encrypted password", "type": "secret"},
    {"code": "f008", "name": "password", "type": "secret"},
    {"code": "f009", "name": "device id", "type": "string"},
)


def message_schema(fields):
    """The full JSON Schema of a service's message: envelope plus its fields (``STANDARD_FIELDS`` when it
    defines none)."""
    properties = dict(ENVELOPE_SCHEMA)
    required = list(ENVELOPE_CODES)
    for field in fields or STANDARD_FIELDS:
        properties[field["code"]] = field_schema(field)
        if field.get("required"):
            required.append(field["code"])
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


# The fast path. Each keyword below is checked exactly as jsonschema checks it (the custom ones by the very
# functions jsonschema calls); a schema with any other keyword has no fast path. tests/hot_path/test_fields.py
# compares both on generated messages.
_QUICK_TYPES = {"string": lambda v: isinstance(v, str), "integer": lambda v: _is_int(None, v)}


def _quick_check(schema):
    """``accepts(message)`` for an object schema of string/integer properties, or ``None``."""
    if set(schema) - {"type", "properties", "required", "additionalProperties"} or schema.get("type") != "object":
        return None
    checks = {}
    for code, rules in schema.get("properties", {}).items():
        check = _quick_property(rules)
        if check is None:
            return None
        checks[code] = check
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True) is False

    def accepts(message):
        if not isinstance(message, dict):
            return False
        for code in required:
            if code not in message:
                return False
        for key, value in message.items():
            check = checks.get(key)
            if check is None:
                if closed:
                    return False
            elif not check(value):
                return False
        return True

    return accepts


def _quick_property(rules):
    """A predicate equal to jsonschema's verdict on one property's rules, or ``None``."""
    tests = []
    for keyword, value in rules.items():
        if keyword == "type":
            kinds = value if isinstance(value, list) else [value]
            if not all(kind in _QUICK_TYPES for kind in kinds):
                return None
            is_type = [_QUICK_TYPES[kind] for kind in kinds]
            tests.append(lambda v, is_type=is_type: any(t(v) for t in is_type))
        elif keyword == "pattern":
            search = re.compile(value).search  # jsonschema's own: re.search on strings only
            tests.append(lambda v, search=search: not isinstance(v, str) or search(v) is not None)
        elif keyword == "maxLength":
            tests.append(lambda v, n=value: not isinstance(v, str) or len(v) <= n)
        elif keyword == "minLength":
            tests.append(lambda v, n=value: not isinstance(v, str) or len(v) >= n)
        elif keyword == "enum" and all(isinstance(item, str) for item in value):
            allowed = frozenset(value)
            tests.append(lambda v, allowed=allowed: isinstance(v, str) and v in allowed)
        elif keyword in _CUSTOM_KEYWORDS:
            keyword_check = _CUSTOM_KEYWORDS[keyword]
            tests.append(lambda v, f=keyword_check, a=value: next(f(None, a, v, rules), None) is None)
        else:
            return None

    def check(value):
        for test in tests:
            if not test(value):
                return False
        return True

    return check


_CUSTOM_KEYWORDS = {"x-decimal-range": _decimal_range, "x-field-pattern": _field_pattern, "x-max-bytes": _max_bytes}


class MessageValidator:
    """A message schema's validator with a fast path: ``accepts`` says yes only when the full validator would
    find nothing, so a good message costs a few dictionary lookups; a bad one (or a schema the fast path does not
    know) goes through jsonschema, which names every problem."""

    def __init__(self, schema):
        self.schema = schema
        self.full = FieldValidator(schema)
        self.accepts = _quick_check(schema)

    def iter_errors(self, message):
        """Every problem of ``message``, as jsonschema reports them."""
        return self.full.iter_errors(message)


def compile_validator(fields):
    """A reusable validator for a service's messages."""
    return MessageValidator(message_schema(fields))


ENVELOPE_VALIDATOR = MessageValidator(
    {"type": "object", "properties": ENVELOPE_SCHEMA, "required": list(ENVELOPE_CODES)}
)


def validate_message(validator, message):
    """Raise ``ValidationFailed`` naming every bad field, or return quietly."""
    accepts = getattr(validator, "accepts", None)
    if accepts is not None and accepts(message):
        return
    problems = {}
    for error in validator.iter_errors(message):
        problems.update(_describe(error, message))
    if problems:
        raise ValidationFailed(details=dict(sorted(problems.items())))


def _describe(error, message):
    if error.validator == "required":
        missing = [code for code in error.validator_value if code not in message]
        return {code: "is required" for code in missing}
    if error.validator == "additionalProperties":
        extra = [key for key in message if key not in error.schema.get("properties", {})]
        return {_safe_key(key): "is not a field of this service" for key in extra}
    if error.validator == "x-field-definitions":
        return {_safe_key(error.path[-1]): error.message}  # already "fields[i].key"
    field = str(error.path[0]) if error.path else "body"
    return {_safe_key(field): _reason(error)}


def _safe_key(key):
    # Keys are echoed back; keep hostile ones short and printable.
    return key[:40].encode("ascii", "replace").decode() if isinstance(key, str) else "body"


def _reason(error):
    if error.validator == "type":
        expected = error.validator_value
        return f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}"
    if error.validator in ("pattern", "x-field-pattern"):
        return "has an invalid format"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    if error.validator == "minLength":
        return f"must be at least {error.validator_value} characters"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    return error.message

