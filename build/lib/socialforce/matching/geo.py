"""Distances in kilometres by an equirectangular projection at Tengzhou's latitude.

Only +, -, * and sqrt are used after projection, all correctly rounded in IEEE arithmetic, so the
vectorised index and the scalar checker compute bit-identical distances. Within the county (about
60 km across) the error against the great-circle distance is below 0.5 %.
"""
from __future__ import annotations

import math

import numpy as np

REFERENCE_LAT = 35.0
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON = 111.320 * math.cos(math.radians(REFERENCE_LAT))


def project(lat, lon):
    """Projected (x, y) in km for scalars or numpy arrays."""
    return np.multiply(lon, KM_PER_DEG_LON), np.multiply(lat, KM_PER_DEG_LAT)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two points (scalar, same arithmetic as `distances_km`)."""
    x1, y1 = project(lat1, lon1)
    x2, y2 = project(lat2, lon2)
    dx = float(x1) - float(x2)
    dy = float(y1) - float(y2)
    return math.sqrt(dx * dx + dy * dy)


def distances_km(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """Pairwise distances between projected points, broadcasting x1[:, None] against x2[None, :]."""
    dx = x1[:, None] - x2[None, :]
    dy = y1[:, None] - y2[None, :]
    return np.sqrt(dx * dx + dy * dy)
