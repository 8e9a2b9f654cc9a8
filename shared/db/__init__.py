"""PostgreSQL: the connection pool and the schema migrations."""
