"""The deployment layer in Dagster: the deployment asset, its state and rollback."""
