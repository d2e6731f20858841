"""Order each officer-day's stops: nearest neighbour then 2-opt, haversine km.

All days with the same number of stops are solved together as ``(days, stops)`` arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["order_stops"]

_EARTH_RADIUS_KM = 6371.0088
_TWO_OPT_PASSES = 20


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> Any:
    lat1, lon1, lat2, lon2 = (np.radians(a) for a in (lat1, lon1, lat2, lon2))
    inner = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(inner, 0.0, 1.0)))


def _route_bucket(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order the stops of many days with the same number of stops ``k`` (arrays ``(D, k)``).

    Nearest neighbour from the first stop, then 2-opt on the open path, all days at once.
    Returns the visiting order (positions into each row) and the km of each day.
    """
    n_days, k = lat.shape
    dist = _haversine_km(lat[:, :, None], lon[:, :, None], lat[:, None, :], lon[:, None, :])
    rows = np.arange(n_days)
    order = np.zeros((n_days, k), dtype=np.int64)
    seen = np.zeros((n_days, k), dtype=bool)
    seen[:, 0] = True
    for step in range(1, k):
        reach = np.where(seen, np.inf, dist[rows, order[:, step - 1]])
        order[:, step] = np.argmin(reach, axis=1)
        seen[rows, order[:, step]] = True
    for _ in range(_TWO_OPT_PASSES):
        improved = False
        for i in range(1, k - 1):
            for j in range(i + 1, k):
                a, b, c = order[:, i - 1], order[:, i], order[:, j]
                delta = dist[rows, a, c] - dist[rows, a, b]
                if j < k - 1:
                    d = order[:, j + 1]
                    delta += dist[rows, b, d] - dist[rows, c, d]
                better = delta < -1e-9
                if better.any():
                    order[better, i : j + 1] = order[better, i : j + 1][:, ::-1]
                    improved = True
        if not improved:
            break
    km = dist[rows[:, None], order[:, :-1], order[:, 1:]].sum(axis=1) if k > 1 else np.zeros(n_days)
    return order, km


def order_stops(
    stop_crew_day: np.ndarray, lat: np.ndarray, lon: np.ndarray, n_crew_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stop order (1-based) of every stop, and km of every crew-day.

    Stops must come sorted by crew-day, then locality. Days with a stop lacking coordinates
    keep the locality order and get NaN km.
    """
    stops = np.bincount(stop_crew_day, minlength=n_crew_days)
    first = np.concatenate([[0], np.cumsum(stops)[:-1]])
    within = np.arange(len(stop_crew_day)) - first[stop_crew_day]
    stop_order = within + 1
    km = np.full(n_crew_days, np.nan)
    located = np.isfinite(lat) & np.isfinite(lon)
    day_located = np.bincount(stop_crew_day, weights=located, minlength=n_crew_days) == stops
    for k in np.unique(stops[day_located & (stops > 0)]):
        days = np.flatnonzero(day_located & (stops == k))
        index = first[days][:, None] + np.arange(k)[None, :]
        order, km[days] = _route_bucket(lat[index], lon[index])
        positions = np.empty_like(order)
        np.put_along_axis(positions, order, np.arange(k)[None, :].repeat(len(days), 0), axis=1)
        stop_order[index] = positions + 1
    return stop_order, km
