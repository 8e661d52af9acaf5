"""Validate: raw rows to valid rows and a quarantine, plus table-level checks."""
