"""The prediction log: every prediction appended to `{lake}/monitoring/<dataset>_predictions`.

Requests only put records on an in-memory buffer; a background thread appends them to the Delta
table when the buffer reaches `max_rows` or `max_seconds` after the first buffered record, and
`close` (called on the service's lifespan shutdown) writes whatever is left, so a graceful
shutdown loses nothing. A failed write keeps its records for the next attempt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import write_deltalake

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.dtypes import polars_dtype
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.lake import table_uri

log = logging.getLogger(__name__)
MONITORING = "monitoring"
REQUEST_ID, PREDICTED_AT, FEATURES = "request_id", "predicted_at", "features"
MODEL_VERSION, ROUTE, SCORE = "model_version", "route", "score"
SHADOW_VERSION, SHADOW_SCORE, DECISION = "shadow_version", "shadow_score", "decision"
SOURCE, STALE, FEATURE_AGE = "feature_source", "stale", "feature_age_seconds"
FRAME_SLICE_ROWS = 100


def predictions_uri(lake_uri: str, contract: DatasetContract) -> str:
    return table_uri(lake_uri, MONITORING, f"{contract.dataset}_predictions")


def log_schema(contract: DatasetContract, view: FeatureView) -> dict[str, pl.DataType]:
    """Columns of the log: request id and time, the entity keys and the features' event time
    (named and typed as in the contract), the features used (JSON), the route, both models'
    versions and scores, the decision, and where the features came from and how old they were."""
    schema: dict[str, pl.DataType] = {
        REQUEST_ID: pl.String(),
        PREDICTED_AT: pl.Datetime("us", "UTC"),
    }
    for key in view.entity_keys:
        schema[key] = polars_dtype(contract.key_column(key).dtype)
    schema[contract.timestamp_name] = pl.Datetime("us", "UTC")
    schema.update(
        {
            FEATURES: pl.String(),
            MODEL_VERSION: pl.Int64(),
            ROUTE: pl.String(),
            SCORE: pl.Float64(),
            SHADOW_VERSION: pl.Int64(),
            SHADOW_SCORE: pl.Float64(),
            DECISION: pl.Boolean(),
            SOURCE: pl.String(),
            STALE: pl.Boolean(),
            FEATURE_AGE: pl.Float64(),
        }
    )
    return schema


class PredictionLog:
    """Buffered appends to the prediction log's Delta table."""

    def __init__(
        self,
        uri: str,
        schema: Mapping[str, pl.DataType],
        *,
        max_rows: int = 1000,
        max_seconds: float = 2.0,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self.schema = dict(schema)
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.storage_options = dict(storage_options or {})
        self._buffer: list[dict[str, Any]] = []
        self._first_at: float | None = None
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failures = 0

    def start(self) -> None:
        if "://" not in self.uri:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, records: list[dict[str, Any]]) -> None:
        """Buffer records (non-blocking apart from a short lock)."""
        with self._lock:
            if not self._buffer:
                self._first_at = time.monotonic()
            self._buffer.extend(records)
            full = len(self._buffer) >= self.max_rows
        if full:
            self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def _due(self) -> bool:
        with self._lock:
            if not self._buffer:
                return False
            waited = time.monotonic() - (self._first_at or time.monotonic())
            return len(self._buffer) >= self.max_rows or waited >= self.max_seconds

    def _run(self) -> None:
        tick = min(self.max_seconds, 0.5)
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if self._due():
                self.flush()

    def _frame(self, batch: list[dict[str, Any]]) -> pl.DataFrame:
        """The batch as a frame, built a slice at a time: turning Python records into columns
        holds the GIL (~10 ms for 2,000 records here), and one long hold would stall every request
        the event loop is serving meanwhile (it showed as the p99 of `/predict`). Between slices
        the thread sleeps for zero seconds, which hands the GIL to a waiting request."""
        parts = []
        for start in range(0, len(batch), FRAME_SLICE_ROWS):
            parts.append(pl.DataFrame(batch[start : start + FRAME_SLICE_ROWS], schema=self.schema))
            time.sleep(0)
        return pl.concat(parts)

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written (0 after a failed write,
        whose records stay buffered)."""
        with self._write_lock:
            with self._lock:
                batch, self._buffer, self._first_at = self._buffer, [], None
            if not batch:
                return 0
            try:
                frame = self._frame(batch)
                write_deltalake(
                    self.uri, frame.to_arrow(), mode="append", storage_options=self.storage_options
                )
            except Exception:
                log.exception("prediction log: writing %d rows failed; kept for retry", len(batch))
                self.failures += 1
                with self._lock:
                    self._buffer[:0] = batch
                    self._first_at = self._first_at or time.monotonic()
                return 0
            self.written += len(batch)
            return len(batch)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the flusher and write what is left (retrying until `timeout`)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            if not self.flush():
                time.sleep(0.2)
        if self.pending:
            log.error("prediction log: %d rows could not be written at shutdown", self.pending)
