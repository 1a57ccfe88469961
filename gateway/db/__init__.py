"""Database access: the connection pool, named SQL queries and migrations."""

from gateway.db.database import FUNCTION_SCHEMA, Database, fetch_one_across_a_move  # noqa: F401
from gateway.db.queries import Q  # noqa: F401
