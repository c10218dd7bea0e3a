"""ClickHouse schema, migrations, analyst queries and data-quality suites."""
