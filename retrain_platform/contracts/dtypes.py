"""Contract dtype names mapped to polars dtypes, and lossless casting of landed values to them."""

from __future__ import annotations

import polars as pl

POLARS_DTYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "string": pl.String(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
}

_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def polars_dtype(name: str) -> pl.DataType:
    return POLARS_DTYPES[name]


def parse_datetimes(text: pl.Series) -> pl.Series:
    """Parse timestamp text: the format that reads a sample best is applied to every value,
    the other known formats only to the values it could not read (as UTC)."""
    values = text.str.strip_chars().str.replace(r"Z$", "+0000")
    sample = pl.DataFrame({"t": values.drop_nulls().head(200)})
    best = max(
        _DATETIME_FORMATS,
        key=lambda fmt: sample.select(
            _with_utc(pl.col("t").str.to_datetime(format=fmt, strict=False, time_unit="us"), fmt)
            .is_not_null()
            .sum()
        ).item(),
    )
    frame = pl.DataFrame({"t": values})
    parsed = frame.select(
        _with_utc(pl.col("t").str.to_datetime(format=best, strict=False, time_unit="us"), best)
    ).to_series()
    missed = parsed.is_null() & values.is_not_null()
    if missed.any():
        fallback = frame.filter(missed).select(_parse_datetime(pl.col("t"))).to_series()
        parsed = parsed.scatter(missed.arg_true(), fallback)
    return parsed.alias(text.name)


def _with_utc(parsed: pl.Expr, fmt: str) -> pl.Expr:
    return parsed.dt.convert_time_zone("UTC") if "%z" in fmt else parsed.dt.replace_time_zone("UTC")


def _parse_datetime(text: pl.Expr) -> pl.Expr:
    text = text.str.strip_chars().str.replace(r"Z$", "+0000")
    attempts = []
    for fmt in _DATETIME_FORMATS:
        parsed = text.str.to_datetime(format=fmt, strict=False, time_unit="us")
        aware = "%z" in fmt
        attempts.append(
            parsed.dt.convert_time_zone("UTC") if aware else parsed.dt.replace_time_zone("UTC")
        )
    return pl.coalesce(attempts)


def _from_text(text: pl.Expr, target: str) -> pl.Expr:
    stripped = text.str.strip_chars()
    if target == "datetime":
        return _parse_datetime(text)
    if target == "date":
        return stripped.str.to_date(strict=False)
    if target == "bool":
        lowered = stripped.str.to_lowercase()
        return (
            pl.when(lowered.is_in(_TRUE))
            .then(True)
            .when(lowered.is_in(_FALSE))
            .then(False)
            .otherwise(None)
        )
    if target.startswith("int"):
        as_float = stripped.cast(pl.Float64, strict=False)
        integral = as_float.is_finite() & (as_float.round(0) == as_float)
        return (
            pl.when(integral)
            .then(as_float)
            .otherwise(None)
            .cast(POLARS_DTYPES[target], strict=False)
        )
    if target == "string":
        return text
    return stripped.cast(POLARS_DTYPES[target], strict=False)


def cast_expr(name: str, source: pl.DataType, target: str) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, cast failed) for one column: a value that cannot be represented exactly fails.

    Text is parsed (numbers, booleans, ISO timestamps); numbers convert only when no precision is
    lost; naive timestamps are taken as UTC.
    """
    src = pl.col(name)
    want = POLARS_DTYPES[target]
    if source == pl.String:
        typed = _from_text(src, target)
    elif target == "datetime" and isinstance(source, pl.Datetime):
        typed = (
            src.dt.convert_time_zone("UTC") if source.time_zone else src.dt.replace_time_zone("UTC")
        ).dt.cast_time_unit("us")
    elif target == "datetime" and source == pl.Date:
        typed = src.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    elif target == "string":
        typed = src.cast(pl.String, strict=False)
    else:
        typed = src.cast(want, strict=False)
    failed = src.is_not_null() & typed.is_null()
    if source.is_numeric() and want.is_numeric() and source != want:
        failed = failed | (typed.is_not_null() & (typed.cast(source, strict=False) != src))
    return typed.cast(want, strict=False), failed
