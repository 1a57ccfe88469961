"""Keeps secrets out of everything the switch stores or logs.

``f007``/``f008`` carry passwords and PINs: they are replaced before a
message is stored, and any copy of their values a request function put
into a downstream call (body, URL, headers) is scrubbed too.
"""

from gateway.hot_path.fields import SECRET_CODES

MASK = "****"
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key", "api-key",
                     "ocp-apim-subscription-key")
_SENSITIVE_WORDS = ("password", "secret", "token", "pin", "key")


def mask_message(message):
    """Copy of a f000–f010 message with its secret fields masked."""
    return {code: (MASK if code in SECRET_CODES and value not in (None, "") else value)
            for code, value in message.items()}


# Shorter secrets (a 4-digit PIN) are masked only where a value equals them:
# masking them inside other text would mangle MSISDNs and amounts.
MIN_EMBEDDED_SECRET = 8


def secret_values(message):
    """The secret strings in a message, for scrubbing."""
    return tuple(str(message[code]) for code in SECRET_CODES if message.get(code) not in (None, ""))


# In free text (error messages, URLs) even a 4-digit PIN is masked wherever it appears.
MIN_SECRET_IN_TEXT = 4


def scrub(value, secrets, min_embedded=MIN_EMBEDDED_SECRET):
    """Deep copy of ``value`` with each secret masked: whole values always, embedded copies when long."""
    if isinstance(value, str):
        for secret in secrets:
            if value == secret:
                return MASK
            if len(secret) >= min_embedded and secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, secrets, min_embedded) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, secrets, min_embedded) for item in value]
    return value


def scrub_text(text, secrets):
    """``text`` (an error message, a URL) with every copy of a secret masked."""
    return scrub(text, secrets, MIN_SECRET_IN_TEXT)


def mask_headers(headers):
    """Headers with credential-bearing values masked."""
    return {name: (MASK if _is_sensitive(name) else value) for name, value in (headers or {}).items()}


def _is_sensitive(name):
    lowered = name.lower()
    return lowered in SENSITIVE_HEADERS or any(word in lowered for word in _SENSITIVE_WORDS)


def mask_msisdn(msisdn, visible=3):
    """``250788123456`` → ``*********456`` for logs."""
    text = str(msisdn)
    return "*" * max(len(text) - visible, 0) + text[-visible:]
