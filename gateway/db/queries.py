"""Named SQL queries loaded from ``sql/queries/*.sql``.

Each file holds blocks that start with ``-- name: <query_name>``; the
block's text up to the next header is the query. Python never builds SQL
from strings: it names a query here and passes parameters.
"""

import re
from pathlib import Path

QUERY_DIR = Path(__file__).resolve().parents[2] / "sql" / "queries"
_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class _Queries:
    """Attribute access to every named query; unknown names fail loudly."""

    def __init__(self, directory):
        self._queries = {}
        for path in sorted(directory.glob("*.sql")):
            self._load(path)

    def _load(self, path):
        text = path.read_text()
        headers = list(_HEADER.finditer(text))
        for index, header in enumerate(headers):
            end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
            name = header.group(1)
            if name in self._queries:
                raise ValueError(f"{path}: query {name!r} is defined twice")
            self._queries[name] = text[header.end():end].strip().rstrip(";")

    def __getattr__(self, name):
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r} in {QUERY_DIR}") from None


Q = _Queries(QUERY_DIR)
