"""Jinja filters of the portal: one way to show each kind of value."""

import datetime as dt

from markupsafe import Markup

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def when(value):
    """A date and time as ``<time datetime="ISO">YYYY-MM-DD HH:MM:SS</time>`` (empty for ``None``).

    Views pass datetimes. An ISO string is read too: some service functions still return them for the
    JSON API (which serialises datetimes itself), and it must not show differently.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), value.strftime(DATETIME_FORMAT))
