"""The service's Prometheus metrics: requests by status, latency by stage, the served versions,
rejected reloads and the predicts in flight."""

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)


class ServingMetrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "retrain_serving_requests_total",
            "Requests by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.errors = Counter(
            "retrain_serving_errors_total", "Refused or failed requests", ["reason"], registry=r
        )
        self.latency = Histogram(
            "retrain_serving_request_seconds",
            "Time in the predict handler",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "retrain_serving_stage_seconds",
            "Online lookup and model calls",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "retrain_serving_predictions_total", "Scored items by route", ["route"], registry=r
        )
        self.stale = Counter(
            "retrain_serving_stale_features_total",
            "Items whose online features were older than allowed",
            registry=r,
        )
        self.model_version = Gauge(
            "retrain_serving_model_version", "Loaded version per alias", ["alias"], registry=r
        )
        self.canary_share = Gauge(
            "retrain_serving_canary_share", "Configured canary share", registry=r
        )
        self.reloads = Counter(
            "retrain_serving_model_reloads_total", "Alias moves applied", ["alias"], registry=r
        )
        self.rejected_reloads = Counter(
            "retrain_serving_model_reloads_rejected_total",
            "New versions that failed the child check: the slot kept its model",
            ["alias"],
            registry=r,
        )
        self.in_flight = Gauge(
            "retrain_serving_predict_in_flight",
            "Predict requests being handled now (on request threads)",
            registry=r,
        )
        self.log_pending = Gauge(
            "retrain_serving_prediction_log_pending",
            "Predictions buffered, not yet in the Delta log",
            registry=r,
        )
