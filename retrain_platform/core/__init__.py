"""Plain functions on polars frames and paths: ingest, validate, store. No Dagster here."""
