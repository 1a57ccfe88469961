"""Database access: the connection pool, named SQL queries and migrations."""

from gateway.db.database import Database, FUNCTION_SCHEMA, SANDBOX_ROLE  # noqa: F401
from gateway.db.queries import Q  # noqa: F401
