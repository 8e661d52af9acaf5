"""Deployment: registry aliases, the decision history and health-gated promotion."""
