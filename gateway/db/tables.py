"""The switch's tables as SQLAlchemy Core sees them, for composed queries (``gateway.db.compose``).

Only what the composed lists and reports read is declared; the migrations (``sql/migrations``) remain the
one definition of the schema. Types matter only for binding parameters.
"""

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Numeric, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData(schema="mospay")

clients = Table(
    "clients", metadata,
    Column("id", BigInteger, primary_key=True), Column("app_id", Text), Column("name", Text),
)

services = Table(
    "services", metadata,
    Column("id", BigInteger, primary_key=True), Column("microservice", Text), Column("service", Text),
    Column("route", Text),
)

client_services = Table(
    "client_services", metadata,
    Column("id", BigInteger, primary_key=True), Column("client_id", BigInteger), Column("service_id", BigInteger),
)

transactions = Table(
    "transactions", metadata,
    Column("id", BigInteger, primary_key=True), Column("ref", UUID), Column("client_id", BigInteger),
    Column("client_service_id", BigInteger), Column("unique_id", Text), Column("status", Text),
    Column("request", JSONB), Column("currency", Text),
    Column("answer", JSONB), Column("http_status", Integer), Column("error_code", Text),
    Column("provider_ref", Text), Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)), Column("completed_at", DateTime(timezone=True)),
)

api_logs = Table(
    "api_logs", metadata,
    Column("id", BigInteger, primary_key=True), Column("transaction_id", BigInteger),
    Column("client_id", BigInteger), Column("method", Text), Column("path", Text), Column("http_status", Integer),
    Column("error_code", Text), Column("duration_ms", Numeric), Column("remote_addr", Text),
    Column("created_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger, primary_key=True), Column("actor", Text), Column("action", Text),
    Column("target", Text), Column("before", JSONB), Column("after", JSONB),
    Column("created_at", DateTime(timezone=True)),
)

jobs = Table(
    "jobs", metadata,
    Column("id", BigInteger, primary_key=True), Column("kind", Text), Column("transaction_id", BigInteger),
    Column("client_id", BigInteger), Column("payload", JSONB), Column("state", Text), Column("attempts", Integer),
    Column("run_at", DateTime(timezone=True)), Column("last_status", Integer), Column("last_error", Text),
    Column("created_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
)
