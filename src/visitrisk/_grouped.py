"""Vectorised operations on rows grouped by an integer key (loans, (loan, date) pairs...).

Helpers of the ledger: stable sorting by two integer keys, runs of equal keys, running sums
restarting per group, and a binary search inside each group, all without a Python loop
over groups. Packing several integers into one int64 is what makes them fast; every packing
checks its bound and falls back (``lexsort``, chunks of groups) rather than overflow.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cumsum_within", "run_starts", "search_in_groups", "sort_order"]

#: Keys packed into one int64 stay below this bound, so sums of two never overflow.
_KEY_LIMIT = 2**62


def sort_order(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Return the stable order by (major, minor, row) of non-negative integer keys.

    Packs the three into one int64 and sorts values (several times faster than ``argsort``
    for tens of millions of rows); falls back to ``lexsort`` when they do not fit.
    """
    n = len(major)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    minor_span = int(minor.max()) + 1
    major_span = int(major.max()) + 1
    if major_span * minor_span * n < _KEY_LIMIT:
        packed = major.astype(np.int64) * minor_span
        packed += minor
        packed *= n
        packed += np.arange(n, dtype=np.int64)
        packed.sort()
        return packed % n
    return np.lexsort((np.arange(n), minor, major))


def run_starts(*keys: np.ndarray) -> np.ndarray:
    """Return the first index of every run of equal consecutive rows (over all keys)."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    changed = np.zeros(n, dtype=bool)
    changed[0] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(changed)


def cumsum_within(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Return the running sum of int64 ``values`` restarting at each index of ``starts``."""
    running = np.cumsum(values)
    lengths = np.diff(np.append(starts, len(values)))
    running -= np.repeat(running[starts] - values[starts], lengths)
    return running


def search_in_groups(
    row_group: np.ndarray,
    row_value: np.ndarray,
    query_group: np.ndarray,
    query_value: np.ndarray,
    side: str,
) -> np.ndarray:
    """Run ``searchsorted`` for each query inside the rows of its own group.

    ``row_group`` is sorted (integers >= 0) and ``row_value`` (int64) non-decreasing within
    each group. Returns, per query, the global index of the first row of its group whose
    value is >= (``side="left"``) or > (``side="right"``) the query value, or the index just
    past the group when there is none. Group and value are packed into one int64 key,
    chunked by groups when the key could overflow.
    """
    result = np.zeros(len(query_group), dtype=np.int64)
    if len(query_group) == 0 or len(row_group) == 0:
        return result
    low = min(int(row_value.min()), int(query_value.min()))
    span = max(int(row_value.max()), int(query_value.max())) - low + 1
    groups_per_chunk = max(_KEY_LIMIT // span, 1)
    first_group = 0
    last_group = int(max(row_group.max(), query_group.max()))
    if last_group < groups_per_chunk:  # the usual case: one key for everything
        row_key = row_group.astype(np.int64) * span
        row_key += row_value
        row_key -= low
        query_key = query_group.astype(np.int64) * span
        query_key += query_value
        query_key -= low
        return np.searchsorted(row_key, query_key, side=side)
    while first_group <= last_group:
        stop_group = first_group + groups_per_chunk
        row_start, row_stop = np.searchsorted(row_group, [first_group, stop_group])
        queries = np.flatnonzero((query_group >= first_group) & (query_group < stop_group))
        row_key = (row_group[row_start:row_stop].astype(np.int64) - first_group) * span
        row_key += row_value[row_start:row_stop] - low
        query_key = (query_group[queries].astype(np.int64) - first_group) * span
        query_key += query_value[queries] - low
        result[queries] = row_start + np.searchsorted(row_key, query_key, side=side)
        first_group = stop_group
    return result
