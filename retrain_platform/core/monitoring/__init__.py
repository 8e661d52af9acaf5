"""Monitoring: drift, the champion's reference and the retraining triggers."""
