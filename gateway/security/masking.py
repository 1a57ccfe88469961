"""Keeps secrets out of everything the switch stores, shows or logs.

``f007``/``f008`` and every field a service types ``secret`` carry passwords
and PINs: they are replaced before a message is stored, and any copy of
their values — as sent, or in an obvious disguise (other case, reversed,
base64, hex) — that a function put into a downstream call, an answer or an
error message is scrubbed too. A call spec may also name ``sensitive``
paths (``body.pin_block``, ``headers.Authorization``) whose values are
masked whatever they hold: a PIN block or a signature cannot be recognised
by value.
"""

import base64
import re
from functools import cached_property

from gateway.hot_path.fields import SECRET_CODES

MASK = "****"
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key", "api-key",
                     "ocp-apim-subscription-key")
_SENSITIVE_WORDS = ("password", "secret", "token", "pin", "key")

# Shorter secrets (a 4-digit PIN) are masked only where a value equals them:
# masking them inside other text would mangle MSISDNs and amounts.
MIN_EMBEDDED_SECRET = 8
# In free text (error messages, URLs) even a 4-digit PIN is masked wherever it appears.
MIN_SECRET_IN_TEXT = 4


def mask_message(message, codes=SECRET_CODES):
    """Copy of a f000–f010 message with its secret fields (``codes``) masked."""
    return {code: (MASK if code in codes and value not in (None, "") else value) for code, value in message.items()}


def secret_values(message, codes=SECRET_CODES):
    """The secret strings in a message (``codes``: the route's secret fields), for scrubbing."""
    return tuple(str(message[code]) for code in codes if message.get(code) not in (None, ""))


def disguises(secret):
    """``secret`` as a function might pass it on: as is, reversed, base64 (standard and URL-safe, padded or
    not) and hex, each of the text forms in any letter case (matched case-insensitively)."""
    raw = secret.encode()
    forms = {secret, secret[::-1], raw.hex()}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw), base64.b64encode(raw[::-1])):
        text = encoded.decode()
        forms.update((text, text.rstrip("=")))
    return forms


class Secrets:
    """The secret values of one payment, matched in every disguise.

    A route's own secrets (its provider credentials, its callback token) are the same for each of its payments:
    they are compiled once into patterns (``RouteEntry.secrets``). What one payment adds (a PIN, a provider token,
    a call's sensitive values) is searched for as plain text (``plus``), since compiling a pattern for values
    that change with every payment cost more than the rest of the payment (1.9 ms against 0.1 ms). A string is
    masked wherever any of them matches: the union of the matched spans, so that where one secret overlaps
    another, neither is left partly readable.
    """

    def __init__(self, values=(), base=None):
        self._base = base
        self._own = tuple(values)
        self.values = (*base.values, *self._own) if base is not None else self._own
        forms = {form for value in self._own for form in disguises(value)}
        own_exact = {folded for form in forms for folded in _folded(form)}
        # Case-insensitive for the text forms; base64 is case-sensitive, but a false mask is harmless.
        self._exact = base._exact | own_exact if base is not None else own_exact
        if base is None:
            self._forms = forms
        else:  # searched, not compiled
            self._literal = {limit: tuple({folded for form in forms if len(form) >= limit for folded in _folded(form)})
                             for limit in (MIN_EMBEDDED_SECRET, MIN_SECRET_IN_TEXT)}

    def plus(self, values):
        """These secrets and ``values`` (what one payment adds), without compiling anything."""
        values = tuple(value for value in values if value)
        if not values:
            return self
        if self._base is None:
            return Secrets(values, base=self)
        return Secrets((*self._own, *values), base=self._base)

    @cached_property
    def _embedded(self):  # compiled on first use: most payments scrub text or documents, not both
        return _pattern({f for f in self._forms if len(f) >= MIN_EMBEDDED_SECRET})

    @cached_property
    def _in_text(self):
        return _pattern({f for f in self._forms if len(f) >= MIN_SECRET_IN_TEXT})

    def __bool__(self):
        return bool(self.values)

    def scrub(self, value, in_text=False):
        """Deep copy of ``value`` with each secret masked: whole values always, embedded copies when long
        (``in_text``: even short ones, for error messages and URLs)."""
        if not self.values:
            return value
        if self._base is None:
            pattern, literal = (self._in_text if in_text else self._embedded), ()
        else:
            base = self._base
            pattern = base._in_text if in_text else base._embedded
            literal = self._literal[MIN_SECRET_IN_TEXT if in_text else MIN_EMBEDDED_SECRET]
        return self._scrub(value, pattern, literal)

    def _scrub(self, value, pattern, literal):
        if isinstance(value, str):
            if value.casefold() in self._exact:
                return MASK
            return _mask_text(value, pattern, literal)
        if isinstance(value, dict):  # keys too: a function may key a document by a PIN
            return {self._scrub(key, pattern, literal): self._scrub(item, pattern, literal)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [self._scrub(item, pattern, literal) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in self._exact:
            return MASK  # a PIN written as a JSON number
        return value


def _mask_text(text, pattern, literal):
    """``text`` with every character of every occurrence of a secret masked, overlapping ones too. ``pattern``
    (``_pattern``) finds the longest compiled form at each position where one starts; the ``literal`` forms
    (casefolded) are searched in the casefolded text. Overlapping or touching spans become one mask."""
    spans = _occurrences(pattern, text) if pattern is not None else []
    if literal:
        folded = text.casefold()
        origin = None if len(folded) == len(text) else _origins(text)  # ß → ss moves the offsets: map them back
        for form in literal:
            start = folded.find(form)
            while start != -1:
                end = start + len(form)
                spans.append((start, end) if origin is None else (origin[start], origin[end - 1] + 1))
                start = folded.find(form, start + 1)
    if not spans:
        return text
    spans.sort()
    pieces, position = [], 0
    for start, end in spans:
        if start <= position and pieces:  # overlaps or touches the span masked last: one mask covers both
            position = max(position, end)
            continue
        pieces += (text[position:start], MASK)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _origins(text):
    # For each character of text.casefold(), the index of the character of ``text`` it came from.
    return [index for index, char in enumerate(text) for _ in char.casefold()]


def _folded(form):
    # What a case-insensitive match of ``form`` meets once casefolded: "ı".upper() is "I", whose casefold is "i".
    return {form.casefold(), form.upper().casefold(), form.lower().casefold()}


def _occurrences(pattern, text):
    # Searched again one character past each match's start, not past its end: overlapping occurrences are found too.
    spans, match = [], pattern.search(text)
    while match is not None:
        spans.append(match.span())
        match = pattern.search(text, match.start() + 1)
    return spans


def _pattern(forms):
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.IGNORECASE)


def scrub(value, secrets):
    """Deep copy of ``value`` with each secret (``Secrets`` or plain values) masked in every disguise."""
    return _as_secrets(secrets).scrub(value)


def scrub_text(text, secrets):
    """``text`` (an error message, a URL) with every copy of a secret masked, even a short one."""
    return _as_secrets(secrets).scrub(text, in_text=True)


def _as_secrets(secrets):
    return secrets if isinstance(secrets, Secrets) else Secrets(secrets)


def mask_paths(document, paths):
    """Copy of ``document`` with the value at each dotted path (``body.card.pin_block``) masked."""
    for path in paths:
        document = _mask_path(document, path.split("."))
    return document


def values_at(document, paths):
    """The string values at the dotted ``paths`` of ``document`` (what a call declared sensitive)."""
    found = []
    for path in paths:
        node = document
        for key in path.split("."):
            node = next((v for k, v in node.items() if k.lower() == key.lower()), None) \
                if isinstance(node, dict) else None
        if isinstance(node, str | int) and not isinstance(node, bool) and str(node):
            found.append(str(node))
    return found


def _mask_path(node, keys):
    if not keys or not isinstance(node, dict):
        return node
    match = next((k for k in node if k == keys[0] or k.lower() == keys[0].lower()), None)
    if match is None:
        return node
    return {**node, match: MASK if len(keys) == 1 else _mask_path(node[match], keys[1:])}


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
