"""The prediction service: the champion behind FastAPI, fed by the Feast online store.

Modules: `schemas` (request models generated from the contract), `features` (online lookups),
`models` (the loaded model slots and their hot reload), `routing` (canary and shadow),
`prediction_log` (the batched Delta log), `app` (the FastAPI application), `promotion` (the
health-gated promotion the deployment step calls).
"""
