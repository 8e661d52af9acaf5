"""Deterministic synthetic data for a dataset contract: daily events, drift and faulty files.

The platform needs a source to exercise every stage (ingest, validation, training, monitoring)
without real data. This package builds one from the contract alone: every column follows its
declared dtype, range, categories and nullability, and the label follows a seeded rule over the
features (a linear logit of standardised numeric features plus per-category effects) so a
model can learn it.
Drift (covariate and/or concept) starts on a chosen date, and faults put the defects real landing
files have (nulls, bad values and types, duplicates, schema changes, broken files) into the files.

Everything is a pure function of its arguments: a day's events depend on (contract, seed, day) only,
so the same call writes byte-identical files and any day can be regenerated on its own.

Modules, bottom up: `columns`, `world`, `faults`, `landing`; this facade re-exports the API.
"""

from retrain_platform.core.synthetic.faults import FAULT_KINDS, Fault, parse_faults
from retrain_platform.core.synthetic.landing import FILE_FORMATS, GeneratedFile, write_landing_files
from retrain_platform.core.synthetic.world import DRIFT_KINDS, DriftSpec, generate_day

__all__ = [
    "DRIFT_KINDS",
    "DriftSpec",
    "FAULT_KINDS",
    "FILE_FORMATS",
    "Fault",
    "GeneratedFile",
    "generate_day",
    "parse_faults",
    "write_landing_files",
]
