"""What a function template declares about its provider: ``sql/functions/<template>/provider.yaml``.

The switch reads these declarations generically (no provider's name appears in
Python): the payment currency a service defaults to, the credential names the
template's functions read from ``context.credentials``, the token step the
switch runs before calling (``context.auth``), and the ``on_pending`` schedule a
route with a status function gets on assignment. A template without the file
declares nothing.
"""

import functools

import yaml

from gateway.functions.templates import TEMPLATE_DIR

MANIFEST = "provider.yaml"


@functools.lru_cache(maxsize=64)
def manifest(template):
    """The template's declarations as a dict (``{}`` when it has none)."""
    path = TEMPLATE_DIR / template / MANIFEST
    if not isinstance(template, str) or "/" in template or not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def required_credentials(template):
    """The credential names the template's functions need, in the declared order."""
    return tuple(manifest(template).get("credentials") or ())


def token_step(template):
    """The template's token step (``path``, ``method``, ``basic``, ``headers``, ``token_field``,
    ``expires_field``), or ``None``."""
    return manifest(template).get("token")


def default_currency(template):
    """The currency a service of this template pays in unless it says otherwise, or ``None``."""
    return manifest(template).get("currency")


def default_on_pending(template):
    """The ``on_pending`` schedule a route of this template gets on assignment, or ``None``."""
    return manifest(template).get("on_pending")
