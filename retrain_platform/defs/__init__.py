"""The Dagster layer: thin assets, checks, sensors and jobs per layer, each calling the core."""
