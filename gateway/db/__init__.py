"""Database access: the connection pool, named SQL queries and migrations."""

from gateway.db.database import FUNCTION_SCHEMA, Database  # noqa: F401
from gateway.db.queries import Q  # noqa: F401
