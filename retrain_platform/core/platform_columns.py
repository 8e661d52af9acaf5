"""Names of the columns the platform adds to every table (lineage and quarantine bookkeeping).

Dataset columns come from the contract; these are the platform's own, written in this one place.
They start with an underscore so they cannot collide with a contract column name.
"""

from retrain_platform.contracts.model import SERIES_KEY

PARTITION = "_partition"
SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
INGESTED_AT = "_ingested_at"

LINEAGE = (PARTITION, SOURCE_FILE, SOURCE_ROW, INGESTED_AT)

# The key of a feature view with no entity keys: one value per dataset (the contract names it,
# since a contract's views refer to it; features, training sets and the feature store carry it).
SERIES = SERIES_KEY

STAGE = "_stage"
REASON = "_reason"
CHECK = "_check"
COLUMN = "_column"
VALUE = "_value"
FAILURES = "_failures"
RECORD = "_record"

QUARANTINE_COLUMNS = (
    PARTITION,
    STAGE,
    REASON,
    CHECK,
    COLUMN,
    VALUE,
    FAILURES,
    RECORD,
    SOURCE_FILE,
    SOURCE_ROW,
    INGESTED_AT,
)

STAGE_INGEST = "ingest"
STAGE_VALIDATE = "validate"

REASON_CAST = "cast"
REASON_MISSING_COLUMN = "missing_column"
REASON_OUTSIDE = "outside_partitions"
REASON_CHECK = "check"
REASON_DUPLICATE = "duplicate"
