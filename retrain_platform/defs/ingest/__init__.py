"""The ingest layer in Dagster: the raw asset and the landing-zone sensor."""
