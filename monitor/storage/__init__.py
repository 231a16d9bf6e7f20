"""The database: engine and migrations, the tables, and ingest (writing what connectors found)."""
