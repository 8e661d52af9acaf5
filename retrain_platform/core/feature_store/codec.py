"""Feast's online-store encoding, vectorised: entity keys and values to the bytes Feast writes.

The sqlite and Redis writers and the serving lookup share it, so all three agree byte for byte
with Feast's own serializers (tests compare them for every value type).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from feast import ValueType
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

# Proto field of each scalar value type (numbers read from the generated descriptor).
_FIELDS = {
    ValueType.STRING: "string_val",
    ValueType.INT32: "int32_val",
    ValueType.INT64: "int64_val",
    ValueType.DOUBLE: "double_val",
    ValueType.FLOAT: "float_val",
    ValueType.BOOL: "bool_val",
    ValueType.UNIX_TIMESTAMP: "unix_timestamp_val",
}


_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_WIRE = {
    ValueType.STRING: _LENGTH,
    ValueType.INT32: _VARINT,
    ValueType.INT64: _VARINT,
    ValueType.DOUBLE: _FIXED64,
    ValueType.FLOAT: _FIXED32,
    ValueType.BOOL: _VARINT,
    ValueType.UNIX_TIMESTAMP: _VARINT,
}


_TAGS = {
    t: (ValueProto.DESCRIPTOR.fields_by_name[name].number << 3) | _WIRE[t]
    for t, name in _FIELDS.items()
}


SUPPORTED_VALUE_TYPES = tuple(_FIELDS)


# Entity key values `serialize_entity_key` (version 3) writes as fixed-width little-endian ints.
_KEY_INTS = {ValueType.INT32: "<i4", ValueType.INT64: "<i8", ValueType.UNIX_TIMESTAMP: "<i8"}


# Python's shortest float repr (what Feast stores as text) and polars' formatting agree except
# for magnitudes below 1e-4, which polars writes without an exponent.
_REPR_BELOW = 1e-4


def _key_values(frame: pl.DataFrame, name: str, value_type: ValueType) -> pl.Series:
    column = frame.get_column(name)
    return _epoch_seconds(column) if value_type == ValueType.UNIX_TIMESTAMP else column


def serialize_entity_keys(
    frame: pl.DataFrame, entity_types: Mapping[str, ValueType], version: int = 3
) -> list[bytes]:
    """Feast's serialized entity key of every row (join keys and value types as Feast has them).

    Integer keys (version 3: key names, then type, length and little-endian bytes of each value,
    in join-key order) are built with numpy; other keys go through Feast's own function.
    """
    names = sorted(entity_types)
    if version >= 3 and all(entity_types[n] in _KEY_INTS for n in names):
        parts = [struct.pack("<I", len(names))]
        for name in names:
            encoded = name.encode()
            parts += [struct.pack("<II", ValueType.STRING.value, len(encoded)), encoded]
        header = np.frombuffer(b"".join(parts), dtype=np.uint8)
        blocks = [np.broadcast_to(header, (frame.height, len(header)))]
        for name in names:
            dtype = np.dtype(_KEY_INTS[entity_types[name]])
            prefix = np.frombuffer(
                struct.pack("<II", entity_types[name].value, dtype.itemsize), dtype=np.uint8
            )
            values = _key_values(frame, name, entity_types[name]).to_numpy().astype(dtype)
            blocks += [
                np.broadcast_to(prefix, (frame.height, len(prefix))),
                values.view(np.uint8).reshape(frame.height, dtype.itemsize),
            ]
        return _rows_of(np.hstack(blocks))
    fields = [_FIELDS[entity_types[n]] for n in names]
    columns = [_key_values(frame, n, entity_types[n]).to_list() for n in names]
    return [
        serialize_entity_key(
            EntityKeyProto(
                join_keys=names,
                entity_values=[ValueProto(**{f: v}) for f, v in zip(fields, values, strict=True)],
            ),
            entity_key_serialization_version=version,
        )
        for values in zip(*columns, strict=True)
    ]


def _rows_of(matrix: np.ndarray) -> list[bytes]:
    """Each row of a 2-d uint8 array as bytes."""
    buffer = np.ascontiguousarray(matrix).tobytes()
    width = matrix.shape[1]
    return (
        [buffer[i : i + width] for i in range(0, len(buffer), width)]
        if width
        else [b""] * matrix.shape[0]
    )


@dataclass(frozen=True)
class _Cells:
    """Serialized values of one column: row i is `matrix[i, :lengths[i]]` (padded with zeros)."""

    matrix: np.ndarray
    lengths: np.ndarray


def _varint_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base-128 varint of each int64 (negative numbers as 10-byte two's complement): bytes and
    length of each."""
    rest = values.astype(np.int64).view(np.uint64).copy()
    out = np.zeros((len(rest), 10), dtype=np.uint8)
    lengths = np.ones(len(rest), dtype=np.int64)
    for k in range(10):
        low = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        more = rest != 0
        out[:, k] = low | (more.astype(np.uint8) << 7)
        lengths += more
        if not more.any():
            return out[:, : k + 1], lengths
    return out, lengths


def _varint_cells(values: np.ndarray, tag: int, present: np.ndarray) -> _Cells:
    digits, lengths = _varint_matrix(values)
    matrix = np.empty((len(values), 1 + digits.shape[1]), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = digits
    return _Cells(matrix, np.where(present, 1 + lengths, 0))


def _fixed_cells(values: np.ndarray, tag: int, present: np.ndarray) -> _Cells:
    width = values.dtype.itemsize
    matrix = np.empty((len(values), 1 + width), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = values.astype(values.dtype.newbyteorder("<")).view(np.uint8).reshape(-1, width)
    return _Cells(matrix, np.where(present, 1 + width, 0))


def _utf8(strings: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of all strings concatenated, and the byte length of each (0 for null)."""
    strings = strings.cast(pl.String)
    sizes = strings.str.len_bytes().fill_null(0).to_numpy().astype(np.int64)
    data = np.frombuffer(strings.fill_null("").str.join("").item().encode(), dtype=np.uint8)
    return data, sizes


def _scatter(matrix: np.ndarray, data: np.ndarray, sizes: np.ndarray, columns: np.ndarray) -> None:
    """Put row i's `sizes[i]` bytes of `data` (rows back to back) at `matrix[i, columns[i]:]`."""
    starts = np.cumsum(sizes) - sizes
    rows = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(len(data)) - np.repeat(starts, sizes)
    matrix[rows, np.repeat(columns, sizes) + within] = data


def _string_cells(series: pl.Series, tag: int) -> _Cells:
    """Tag, varint length and UTF-8 bytes of each string, scattered into a padded matrix."""
    present = series.is_not_null().to_numpy()
    data, sizes = _utf8(series)
    digits, digit_lengths = _varint_matrix(sizes)
    width = 1 + digits.shape[1] + (int(sizes.max()) if len(sizes) else 0)
    matrix = np.zeros((len(sizes), width), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1 : 1 + digits.shape[1]] = digits
    _scatter(matrix, data, sizes, 1 + digit_lengths)
    return _Cells(matrix, np.where(present, 1 + digit_lengths + sizes, 0))


def _text_cells(texts: pl.Series) -> _Cells:
    """UTF-8 bytes of each text in a padded matrix; lengths are bytes + 1, 0 for a null text."""
    data, sizes = _utf8(texts)
    matrix = np.zeros((len(sizes), int(sizes.max()) if len(sizes) else 0), dtype=np.uint8)
    _scatter(matrix, data, sizes, np.zeros(len(sizes), dtype=np.int64))
    return _Cells(matrix, np.where(texts.is_not_null().to_numpy(), sizes + 1, 0))


def _epoch_seconds(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    return series.dt.epoch("s")


def _encode_cells(series: pl.Series, value_type: ValueType) -> _Cells:
    tag = _TAGS[value_type]
    if value_type == ValueType.STRING:
        return _string_cells(series, tag)
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        dtype = pl.Float64 if value_type == ValueType.DOUBLE else pl.Float32
        values = series.cast(dtype)
        present = (values.is_not_null() & values.is_not_nan()).to_numpy()
        return _fixed_cells(values.fill_null(0).to_numpy(), tag, present)
    if value_type == ValueType.UNIX_TIMESTAMP:
        series = _epoch_seconds(series)
    present = series.is_not_null().to_numpy()
    return _varint_cells(series.cast(pl.Int64).fill_null(0).to_numpy(), tag, present)


def encode_values(series: pl.Series, value_type: ValueType) -> list[bytes]:
    """Serialized `Value` proto of every element (null and NaN as the empty Value, as Feast)."""
    cells = _encode_cells(series, value_type)
    return [
        row[:length]
        for row, length in zip(_rows_of(cells.matrix), cells.lengths.tolist(), strict=True)
    ]


def _text_series(series: pl.Series, value_type: ValueType) -> pl.Series:
    if value_type == ValueType.UNIX_TIMESTAMP:
        return pl.Series(series.name, [None] * len(series), dtype=pl.String)
    if value_type == ValueType.BOOL:
        return series.cast(pl.String).replace({"true": "True", "false": "False"})
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        values = (
            series.cast(pl.Float32).cast(pl.Float64)
            if value_type == ValueType.FLOAT
            else series.cast(pl.Float64)
        )
        values = values.fill_nan(None)
        texts = values.cast(pl.String)
        small = np.flatnonzero(
            ((values.abs() < _REPR_BELOW) & (values != 0)).fill_null(False).to_numpy()
        )
        if len(small):
            texts = texts.scatter(small, [repr(values[int(i)]) for i in small])
        return texts
    return series.cast(pl.String)


def value_texts(series: pl.Series, value_type: ValueType) -> list[str | None]:
    """The `value_text` Feast stores beside each value (`helpers.extract_text_and_num`)."""
    return _text_series(series, value_type).to_list()
