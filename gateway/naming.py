"""Names that become SQL identifiers: validated here, quoted at render time.

The function-name convention is a contract with DBAs and clients:
``{app_id}_{microservice}_{route}`` and ``RESPONSE_{app_id}_{microservice}_{route}`` (and, for
templates with a callback part, ``CALLBACK_{app_id}_{microservice}_{route}``).
"""

import re

NAME_PART = re.compile(r"^[a-z][a-z0-9_]*\Z")
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
MAX_PART_LENGTH = 40


def name_problem(value):
    """Why ``value`` is not a valid name part, or ``None`` when it is."""
    if not isinstance(value, str):
        return "must be a string"
    if not NAME_PART.fullmatch(value):
        return "must start with a lowercase letter and hold only lowercase letters, digits and _"
    if len(value) > MAX_PART_LENGTH:
        return f"must be at most {MAX_PART_LENGTH} characters"
    return None


def function_names(app_id, microservice, route):
    """``(request_function, response_function)`` for a client's route."""
    request_function = f"{app_id}_{microservice}_{route}"
    return request_function, f"RESPONSE_{request_function}"


def callback_function_name(app_id, microservice, route):
    """``CALLBACK_{app_id}_{microservice}_{route}``: maps a provider's notification (as long as RESPONSE_…)."""
    return f"CALLBACK_{app_id}_{microservice}_{route}"


def status_function_name(app_id, microservice, route):
    """``STATUS_{app_id}_{microservice}_{route}``: builds the call asking the provider what became of a payment."""
    return f"STATUS_{app_id}_{microservice}_{route}"


def function_name_problem(app_id, microservice, route):
    """Why the generated names would not fit PostgreSQL, or ``None``."""
    _, response_function = function_names(app_id, microservice, route)
    if len(response_function.encode()) > MAX_IDENTIFIER_BYTES:
        return (
            f"function name {response_function!r} is {len(response_function.encode())} bytes; "
            f"PostgreSQL allows {MAX_IDENTIFIER_BYTES}: shorten app_id, microservice or route"
        )
    return None
