"""A continuous-time Markov chain over stages, integrated exactly (no numpy: the matrices are model-sized).

With generator Q (rates per day; rows sum to 0), expected occupancy m(t) (a row vector: leads per stage)
follows m' = m Q + a for constant arrival rates a, from m(0) = b. Over a horizon H:

    m(H)          = b E + a F1,          E = e^{QH}
    integral of m = b F1 + a F2,         F1 = int_0^H e^{Qs} ds,   F2 = int_0^H int_0^t e^{Qs} ds dt

E, F1 and F2 come from a Taylor series at H / 2^s (norm <= 1/2) and s doublings:
E(2h) = E(h)^2, F1(2h) = F1(h) + E(h) F1(h), F2(2h) = F2(h) + h F1(h) + E(h) F2(h).
The expected number of moves S -> T in [0, H] is q(S, T) times the integral of m_S.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Matrix = list[list[float]]
Vector = list[float]

_TERMS = 24


def _identity(n: int) -> Matrix:
    return [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]


def _mul(a: Matrix, b: Matrix) -> Matrix:
    columns = list(zip(*b, strict=True))
    return [[math.fsum(x * y for x, y in zip(row, col, strict=True)) for col in columns] for row in a]


def _add(a: Matrix, b: Matrix, scale: float = 1.0) -> Matrix:
    return [[x + scale * y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, strict=True)]


def _vec_mul(v: Vector, m: Matrix) -> Vector:
    return [math.fsum(v[i] * m[i][j] for i in range(len(v))) for j in range(len(m[0]) if m else 0)]


@dataclass(frozen=True, slots=True)
class Propagators:
    end: Matrix  # E = e^{QH}
    integral: Matrix  # F1
    double_integral: Matrix  # F2


def propagators(q: Sequence[Sequence[float]], horizon: float) -> Propagators:
    n = len(q)
    norm = max((sum(abs(x) for x in row) for row in q), default=0.0) * horizon
    doublings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    h = horizon / 2**doublings
    qh = [[x * h for x in row] for row in q]
    end, f1, f2 = _identity(n), [[0.0] * n for _ in range(n)], [[0.0] * n for _ in range(n)]
    power = _identity(n)
    factorial = 1.0  # k!
    for k in range(_TERMS):
        end = _add(end, power, 1.0 / factorial) if k else end
        f1 = _add(f1, power, h / (factorial * (k + 1)))
        f2 = _add(f2, power, h * h / (factorial * (k + 1) * (k + 2)))
        power = _mul(power, qh)
        factorial *= k + 1
    for _ in range(doublings):
        f2 = _add(_add(f2, f1, h), _mul(end, f2))
        f1 = _add(f1, _mul(end, f1))
        end = _mul(end, end)
        h *= 2
    return Propagators(end, f1, f2)


@dataclass(frozen=True, slots=True)
class Projection:
    end: Vector  # expected occupancy at H
    occupancy: Vector  # expected lead-days per state over [0, H]


def project(p: Propagators, start: Vector, arrivals: Vector) -> Projection:
    """Expected occupancy at H and lead-days over [0, H] from `start` leads and `arrivals` per day."""
    end = [x + y for x, y in zip(_vec_mul(start, p.end), _vec_mul(arrivals, p.integral), strict=True)]
    days = [x + y for x, y in zip(_vec_mul(start, p.integral), _vec_mul(arrivals, p.double_integral), strict=True)]
    return Projection(end, days)
