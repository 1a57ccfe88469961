"""Renders the function templates under ``sql/functions/<template>/``.

Identifiers reach SQL only through ``ident`` and values only through
``literal``; templates never interpolate raw text.
"""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "sql" / "functions"


def quote_ident(name):
    """A PostgreSQL identifier, double-quoted and escaped."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError("an identifier must be a non-empty string without NUL")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value):
    """A PostgreSQL string literal (standard_conforming_strings is on since 9.1)."""
    text = str(value)
    if "\x00" in text:
        raise ValueError("a literal cannot hold NUL")
    return "'" + text.replace("'", "''") + "'"


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=StrictUndefined,
    autoescape=False,  # SQL, not HTML: the ident/literal filters do the escaping
    keep_trailing_newline=True,
)
_env.filters["ident"] = quote_ident
_env.filters["literal"] = quote_literal


def available_templates():
    """Names of the templates that have both a request and a response part."""
    return sorted(
        path.name for path in TEMPLATE_DIR.iterdir()
        if (path / "request.sql.j2").is_file() and (path / "response.sql.j2").is_file()
    )


def has_part(template, kind):
    """Whether ``template`` has a ``kind`` part (the ``callback`` part is optional)."""
    return (TEMPLATE_DIR / template / f"{kind}.sql.j2").is_file()


def render(template, kind, **context):
    """Source of the ``kind`` ('request', 'response' or 'callback') function of ``template``."""
    return _env.get_template(f"{template}/{kind}.sql.j2").render(**context)
