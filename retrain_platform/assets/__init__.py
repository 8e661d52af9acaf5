"""The Dagster layer of each data layer: thin assets that call the core and record metadata."""
