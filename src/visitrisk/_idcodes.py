"""Text identifiers to dense integer codes, without one Python string per row.

Identifiers (``loan_id``, ``customer_id``) are the join keys of every contract table, and a
bank's tables hold tens of millions of rows. Two routes give every row the code of its id
in one sorted vocabulary shared by several columns:

- **fixed width** (the common case: zero-padded account numbers). When every id has the
  same byte length, the ids' bytes form an ``(n, width)`` matrix. Bytes that vary between
  ids are read as digits of a mixed-radix number (radix = that byte's range), which is
  exact and sorts like the ids; when those numbers span a small range, a direct-address
  table turns them into codes with no hashing at all;
- **general**: Arrow's hash-based ``dictionary_encode`` per column (categoricals reuse their
  codes), then a union of the small dictionaries.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["encode_ids", "id_column"]

#: Largest direct-address table (entries) the fixed-width route may build (~0.3 GB).
_MAX_TABLE = 1 << 26
#: Rows per block of the fixed-width route.
_BLOCK = 1 << 17


def id_column(vocabulary: pa.Array, codes: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """Build a ``str`` column of ids from the vocabulary in Arrow (no Python strings)."""
    column = pd.Series(vocabulary.take(pa.array(codes)).to_pandas(), dtype="str")
    return column if index is None else column.set_axis(index)


def encode_ids(columns: dict[str, pd.Series | pa.Array]) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """Map id columns of several tables onto one vocabulary sorted by UTF-8 bytes.

    Parameters
    ----------
    columns : dict of str to pandas.Series or pyarrow.Array
        Id columns by table name (``str``, categorical or object Series, or Arrow text).

    Returns
    -------
    vocabulary : pyarrow.Array
        Distinct ids (``large_string``), sorted.
    codes : dict of str to numpy.ndarray
        Per table, the int32 position of every row's id in ``vocabulary``; -1 where the id
        is missing.
    """
    chunks = {table: _text_chunks(ids) for table, ids in columns.items()}
    if all(parts is not None for parts in chunks.values()):
        matrices = {table: _byte_matrices(parts) for table, parts in chunks.items()}
        if all(found is not None for found in matrices.values()):
            encoded = _encode_fixed_width(matrices)  # type: ignore[arg-type]
            if encoded is not None:
                return encoded
    return _encode_general(columns)


def _text_chunks(ids: pd.Series | pa.Array) -> list[pa.Array] | None:
    """Arrow chunks of a text id column; None when the column is not Arrow text."""
    if isinstance(ids, pd.Series):
        if not hasattr(ids.array, "__arrow_array__"):
            return None
        ids = ids.array.__arrow_array__()
    parts = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    if all(pa.types.is_string(part.type) or pa.types.is_large_string(part.type) for part in parts):
        return parts
    return None


def _byte_matrices(parts: list[pa.Array]) -> list[np.ndarray] | None:
    """Zero-copy ``(rows, width)`` uint8 views of chunks whose ids all have one byte length."""
    matrices = []
    for part in parts:
        if len(part) == 0:
            continue
        if part.null_count:
            return None
        offset_type = np.int64 if pa.types.is_large_string(part.type) else np.int32
        _, offsets_buffer, data_buffer = part.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=offset_type)
        offsets = offsets[part.offset : part.offset + len(part) + 1]
        width = int(offsets[1] - offsets[0])
        if width == 0 or int(offsets[-1] - offsets[0]) != width * len(part):
            return None
        if (np.diff(offsets) != width).any():
            return None
        data = np.frombuffer(data_buffer, dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]
        matrix = data.reshape(len(part), width)
        # Blocks small enough for the CPU cache (views, no copy).
        matrices += [matrix[start : start + _BLOCK] for start in range(0, len(matrix), _BLOCK)]
    return matrices


def _encode_fixed_width(
    matrices: dict[str, list[np.ndarray]],
) -> tuple[pa.Array, dict[str, np.ndarray]] | None:
    every = [matrix for parts in matrices.values() for matrix in parts]
    widths = {matrix.shape[1] for matrix in every}
    if len(widths) != 1:
        return None
    (width,) = widths
    low = np.full(width, 255, dtype=np.uint8)
    high = np.zeros(width, dtype=np.uint8)
    for matrix in every:
        # One contiguous row per byte position: reductions and arithmetic run at full speed.
        by_byte = np.ascontiguousarray(matrix.T)
        np.minimum(low, by_byte.min(axis=1), out=low)
        np.maximum(high, by_byte.max(axis=1), out=high)
    varying = np.flatnonzero(high > low)
    radix = [int(high[byte]) - int(low[byte]) + 1 for byte in varying]
    size = math.prod(radix)
    n_rows = sum(len(matrix) for matrix in every)
    if size > min(max(4 * n_rows, 1 << 20), _MAX_TABLE):
        return None

    # Mixed-radix number of the varying bytes (each minus its lowest value): exact, below
    # ``size`` (so int32 holds it), and ordered like the ids' bytes.
    keys = {}
    for table, parts in matrices.items():
        key = np.empty(sum(len(matrix) for matrix in parts), dtype=np.int32)
        start = 0
        for matrix in parts:
            block = key[start : start + len(matrix)]
            block[:] = 0
            by_byte = np.ascontiguousarray(matrix[:, varying].T)
            for digits, byte, base in zip(by_byte, varying, radix, strict=True):
                block *= base
                block += digits - low[byte]
            start += len(matrix)
        keys[table] = key

    present = np.zeros(size, dtype=bool)
    for key in keys.values():
        present[key] = True
    if present.all():
        codes = keys  # dense ids (every number in range used): the number is the code
    else:
        code_of_key = np.cumsum(present, dtype=np.int32) - 1
        codes = {table: code_of_key[key] for table, key in keys.items()}

    distinct = np.flatnonzero(present)
    letters = np.empty((len(distinct), width), dtype=np.uint8)
    letters[:] = low
    for byte, base in zip(varying[::-1], radix[::-1], strict=True):
        letters[:, byte] = distinct % base + low[byte]
        distinct //= base
    offsets = np.arange(0, (len(letters) + 1) * width, width, dtype=np.int64)
    vocabulary = pa.Array.from_buffers(
        pa.large_string(), len(letters), [None, pa.py_buffer(offsets), pa.py_buffer(letters)]
    )
    return vocabulary, codes


def _as_text(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type):
        # Numbers given as ids break the contract, but their text is still the identifier.
        array = pc.cast(array, pa.large_string())
    return array


def _dictionary(ids: pd.Series | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Split one id column into (distinct values, index per row; -1 where missing)."""
    if isinstance(ids, pd.Series) and isinstance(ids.dtype, pd.CategoricalDtype):
        # Parquet dictionary columns arrive as categoricals: reuse their codes, no hashing.
        values = _as_text(pa.array(pd.Series(ids.cat.categories)))
        codes = ids.cat.codes.to_numpy().astype(np.int64)
        used = np.bincount(codes[codes >= 0], minlength=len(values)) > 0
        if not used.all():
            # An unused category is not an id of this table: it must not get rows.
            values = values.filter(pa.array(used))
            renumber = np.cumsum(used) - 1
            codes = np.where(codes >= 0, renumber[np.maximum(codes, 0)], -1)
        return values, codes
    if isinstance(ids, pd.Series):
        ids = (
            ids.array.__arrow_array__() if hasattr(ids.array, "__arrow_array__") else pa.array(ids)
        )
    encoded = pc.dictionary_encode(_as_text(ids))
    indices = pc.fill_null(encoded.indices, -1)  # a missing id gets code -1
    return encoded.dictionary, indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _encode_general(
    columns: dict[str, pd.Series | pa.Array],
) -> tuple[pa.Array, dict[str, np.ndarray]]:
    parts = {table: _dictionary(ids) for table, ids in columns.items()}
    vocabulary = pc.unique(pa.concat_arrays([values for values, _ in parts.values()]))
    vocabulary = vocabulary.take(pc.array_sort_indices(vocabulary))
    codes = {}
    for table, (values, value_codes) in parts.items():
        lookup = pc.index_in(values, value_set=vocabulary).to_numpy(zero_copy_only=False)
        lookup = np.append(lookup.astype(np.int32), np.int32(-1))  # index -1 -> missing
        codes[table] = lookup[value_codes]
    return vocabulary, codes
