"""The drift statistics: PSI over shared bins or categories, and the two-sample KS test.

The same definitions as Evidently's (the bench checks they agree), computed on polars and numpy
so a partition's drift costs milliseconds against a cached reference.

PSI is computed exactly as Evidently 0.7's `psi` stat test (`get_binned_data`) computes it:

- numeric column whose reference has more than 20 distinct values: equal-width bins from the
  minimum to the maximum of reference and current *combined*, as many as numpy's "sturges" rule
  gives (`np.histogram_bin_edges(concat, "sturges")`, about log2(n_ref + n_cur) + 1), counted the
  way `np.histogram` counts them (half-open bins, the last one closed);
- categorical column, or numeric with at most 20 distinct reference values: one bin per value
  seen in either sample;
- proportions are counts over the non-null sample size; an empty bin gets
  `min(non-zero proportion) / 1e6` when that minimum is <= 1e-4, else 1e-4 (each side on its own,
  without renormalising); PSI = sum((ref - cur) * ln(ref / cur)).

Because the bin edges depend on the current sample, the profile keeps each numeric feature's
sorted reference values (which the KS test needs anyway) rather than fixed edges: any bin's
reference count is then two binary searches.

KS is scipy's `ks_2samp` (what Evidently's `ks` method calls): the same statistic, from sorted
samples, and the same p-value (`kstwo.sf(d, round(n1 n2 / (n1 + n2)))` above 10,000 rows per
side, scipy's exact method below).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

_EXACT_KS_MAX_ROWS = 10_000  # scipy's ks_2samp switches from exact to asymptotic p-values above
_EMPTY_BIN_FLOOR = 1e-4
_EMPTY_BIN_SCALE = 1e6


Category = str | int | float | bool


def _fill_empty_bins(proportions: np.ndarray) -> np.ndarray:
    """Evidently's replacement for empty bins (one side at a time, not renormalised)."""
    nonzero = proportions[proportions != 0]
    if nonzero.size == 0:
        return proportions
    smallest = nonzero.min()
    fill = smallest / _EMPTY_BIN_SCALE if smallest <= _EMPTY_BIN_FLOOR else _EMPTY_BIN_FLOOR
    return np.where(proportions == 0, fill, proportions)


def psi(reference_proportions: np.ndarray, current_proportions: np.ndarray) -> float:
    """Population stability index of two binned distributions (Evidently's definition)."""
    ref = _fill_empty_bins(np.asarray(reference_proportions, dtype=np.float64))
    cur = _fill_empty_bins(np.asarray(current_proportions, dtype=np.float64))
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin exactly as `np.histogram(values, edges)` (last bin closed on the right)."""
    cumulative = np.concatenate(
        (
            np.searchsorted(sorted_values, edges[:-1], side="left"),
            np.searchsorted(sorted_values, edges[-1:], side="right"),
        )
    )
    return np.diff(cumulative)


def _value_counts(sorted_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    right = np.searchsorted(sorted_values, keys, side="right")
    return right - np.searchsorted(sorted_values, keys, side="left")


def numeric_psi(
    reference_sorted: np.ndarray, current_sorted: np.ndarray, *, discrete: bool
) -> float:
    """PSI of two sorted, finite samples, binned as Evidently bins them."""
    if discrete:
        keys = np.unique(np.concatenate((np.unique(reference_sorted), np.unique(current_sorted))))
        ref_counts = _value_counts(reference_sorted, keys)
        cur_counts = _value_counts(current_sorted, keys)
    else:
        combined = np.concatenate((reference_sorted, current_sorted))
        edges = np.histogram_bin_edges(combined, bins="sturges")
        ref_counts = _bin_counts(reference_sorted, edges)
        cur_counts = _bin_counts(current_sorted, edges)
    return psi(ref_counts / reference_sorted.size, cur_counts / current_sorted.size)


def categorical_psi(reference: Mapping[Category, int], current: Mapping[Category, int]) -> float:
    """PSI of two category-count tables over every category seen in either."""
    keys = list(dict.fromkeys([*reference, *current]))
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    return psi(ref / ref.sum(), cur / cur.sum())


def ks_test(
    reference_sorted: np.ndarray, current_sorted: np.ndarray, *, pvalue: bool = True
) -> tuple[float, float | None]:
    """Two-sided two-sample KS (statistic, p-value) of sorted samples, as scipy's `ks_2samp`.

    The statistic is computed here with scipy's arithmetic (both ECDFs at every pooled point,
    snapped to its lattice of 1 / lcm(n_ref, n_cur) where scipy's exact method applies), so it
    is scipy's to the last bit; `pvalue=False` skips the p-value (None), whose exact
    computation on small samples costs a hundred times the statistic.
    """
    n_ref, n_cur = reference_sorted.size, current_sorted.size
    pooled = np.concatenate((reference_sorted, current_sorted))
    gaps = (
        np.searchsorted(reference_sorted, pooled, side="right") / n_ref
        - np.searchsorted(current_sorted, pooled, side="right") / n_cur
    )
    statistic = float(max(np.clip(-np.min(gaps), 0, 1), np.max(gaps)))
    exact = max(n_ref, n_cur) <= _EXACT_KS_MAX_ROWS
    g = math.gcd(n_ref, n_cur)
    if exact and n_ref // g < np.iinfo(np.int32).max / (n_cur // g):
        lattice = (n_ref // g) * n_cur
        statistic = round(statistic * lattice) / lattice
    if not pvalue:
        return statistic, None
    if exact:
        return statistic, float(stats.ks_2samp(reference_sorted, current_sorted).pvalue)
    big, small = max(n_ref, n_cur), min(n_ref, n_cur)
    effective = np.round(float(big) * small / (big + small))
    return statistic, float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))
