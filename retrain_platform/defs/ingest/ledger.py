"""`landing/<dataset>_landing`: the landing zone in the UI, observed from the landing ledger.

The files themselves are not built by the platform, so the asset is external: the landing sensor
records an observation whenever the ledger changes, with the count of files per status and the
latest files, so the asset page shows what landed and what became of it (and `raw/<dataset>_raw`
shows it as its upstream).
"""

from collections.abc import Sequence

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.ingest import ledger
from retrain_platform.defs import keys

LATEST_FILES = 25


def build_ledger_spec(contract: DatasetContract) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=keys.ledger_key(contract),
        group_name=keys.GROUPS[keys.LANDING],
        kinds={"delta", "file"},
        tags=keys.tags(contract, keys.LANDING),
        owners=[contract.owner],
        description=(
            f"The {contract.dataset} landing zone as its ledger records it: every file that "
            "appeared, its status (accepted, ingested, in_progress, refused_name, unreadable, "
            "empty, outside_partitions, superseded) and its rows (landed = raw + quarantined "
            "+ pending). `retrain-platform landing` prints the same."
        ),
    )


def _files_table(summary: pl.DataFrame) -> dg.MetadataValue:
    latest = summary.sort("first_seen", descending=True).head(LATEST_FILES)
    records = [
        dg.TableRecord(
            {
                "file": row["file"],
                "status": row["status"],
                "rows_landed": int(row["rows_landed"] or 0),
                "rows_raw": int(row["rows_raw"] or 0),
                "rows_quarantined": int(row["rows_quarantined"] or 0),
                "message": clip_text(row["message"] or ""),
            }
        )
        for row in latest.iter_rows(named=True)
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("file", "string"),
            dg.TableColumn("status", "string"),
            dg.TableColumn("rows_landed", "int"),
            dg.TableColumn("rows_raw", "int"),
            dg.TableColumn("rows_quarantined", "int"),
            dg.TableColumn("message", "string"),
        ]
    )
    return dg.MetadataValue.table(records, schema)


def ledger_observation(
    contract: DatasetContract, existing: pl.DataFrame, new: Sequence[ledger.LedgerRecord]
) -> dg.AssetObservation:
    """The ledger after `new` records, as an observation of `landing/<dataset>_landing`."""
    frame = pl.concat([existing, ledger.to_frame(new)])
    summary = ledger.file_summary(frame)
    counts = dict(summary.group_by("status").len().iter_rows())
    metadata: dict[str, object] = {
        f"files_{status}": int(counts.get(status, 0))
        for status in (*ledger.STATUSES, ledger.INGESTED)
    }
    metadata["files"] = _files_table(summary)
    return dg.AssetObservation(asset_key=keys.ledger_key(contract), metadata=metadata)
