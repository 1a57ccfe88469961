"""Per-client PostgreSQL functions: rendering, the catalogue of versions, and calling them."""
