"""Ingest: landing files to typed raw rows with lineage, per partition."""
