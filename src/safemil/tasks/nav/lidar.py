"""Upstream's pseudo-lidar for every object kind at once.

Per object: its XY in the robot frame, reading max(0, range - d) / range in the
bin of its angle, aliased into the two neighbouring bins by the fractional part
of the angle; each bin keeps the largest reading of its kind (no occlusion).
``pseudo_lidar`` does all objects of all kinds in one pass of numpy operations;
``pseudo_lidar_few`` is the same arithmetic in plain floats, which is faster
when there are only a handful of objects (numpy's per-call cost dominates).
"""

from __future__ import annotations

import math

import numpy as np

NUM_BINS = 16
_TWO_PI = 2 * np.pi
_BIN = _TWO_PI / NUM_BINS
_NEIGHBOURS = np.array([0, 1, -1])


def pseudo_lidar(ego: np.ndarray, kind: np.ndarray, num_kinds: int, max_dist: float) -> np.ndarray:
    """Readings ``(num_kinds * 16,)``: block ``k`` is the lidar of the objects with ``kind == k``."""
    out = np.zeros(num_kinds * NUM_BINS)
    if len(ego) == 0:
        return out
    x, y = ego[:, 0], ego[:, 1]
    angle = np.arctan2(y, x) % _TWO_PI
    bins = (angle / _BIN).astype(np.int64)
    alias = (angle - _BIN * bins) / _BIN
    value = np.empty((3, len(x)))
    sensor = value[0]
    np.maximum(0.0, max_dist - np.hypot(x, y), out=sensor)
    sensor /= max_dist
    np.multiply(alias, sensor, out=value[1])  # bin + 1
    np.multiply(1 - alias, sensor, out=value[2])  # bin - 1
    index = (bins + _NEIGHBOURS[:, None]) & (NUM_BINS - 1)
    index += kind * NUM_BINS
    np.maximum.at(out, index.ravel(), value.ravel())
    return out


def pseudo_lidar_few(ego: list[tuple[float, float]], kind: list[int], num_kinds: int,
                     max_dist: float) -> list[float]:
    """`pseudo_lidar` for a few objects given as plain floats (same operations; equal to rounding)."""
    out = [0.0] * (num_kinds * NUM_BINS)
    for (x, y), k in zip(ego, kind, strict=True):
        angle = math.atan2(y, x) % _TWO_PI
        b = int(angle / _BIN)
        alias = (angle - _BIN * b) / _BIN
        s = max(0.0, max_dist - abs(complex(x, y))) / max_dist
        base = k * NUM_BINS
        for i, v in ((base + b, s), (base + ((b + 1) & 15), alias * s), (base + ((b - 1) & 15), (1 - alias) * s)):
            if v > out[i]:
                out[i] = v
    return out
