"""MST's select-measure-generate over coarse column cells.

*Select*: a maximum spanning tree of column pairs, each edge picked by the
exponential mechanism with the score ‖M_ij(D) − N̂·p̂_i p̂_jᵀ‖₁ (how far the
real pair is from independence under the noisy 1-way estimates; sensitivity 1).
*Measure*: the tree's 2-way marginals with Gaussian noise. *Generate*: each
2-way table is made non-negative and consistent with its noisy 1-way margins
by iterative proportional fitting, then rows are drawn ancestrally from the
root (McKenna, Miklau & Sheldon 2021 use a graphical model for the last step;
on a tree its estimate factorises the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthgate.synth.dp_mst._domain import norm_sub

__all__ = ["TreeModel", "estimate_tree", "pair_counts", "select_tree"]

Array = np.ndarray[Any, Any]
_IPF_ROUNDS = 30
_SMOOTH = 1e-6  # a trace of independence so every reachable cell has a path


def pair_counts(a: Array, b: Array, ka: int, kb: int) -> Array:
    """The 2-way contingency table of two code columns."""
    flat = np.bincount(a * kb + b, minlength=ka * kb)
    table: Array = flat.reshape(ka, kb).astype(np.float64)
    return table


class _Components:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def select_tree(
    codes: Array,
    sizes: Sequence[int],
    one_way: Sequence[Array],
    *,
    epsilon0: float,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[int, int]]:
    """d − 1 edges, each chosen by the exponential mechanism at ε₀ (sensitivity 1)."""
    d = len(sizes)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    total = float(np.mean([max(float(m.sum()), 1.0) for m in one_way]))
    probs = [m / m.sum() if m.sum() > 0 else np.full(len(m), 1.0 / len(m)) for m in one_way]
    scores = np.empty(len(pairs))
    for k, (i, j) in enumerate(pairs):
        real = pair_counts(codes[:, i], codes[:, j], sizes[i], sizes[j])
        scores[k] = np.abs(real - total * np.outer(probs[i], probs[j])).sum()
    comps = _Components(d)
    edges: list[tuple[int, int]] = []
    for _ in range(d - 1):
        open_ = [k for k, (i, j) in enumerate(pairs) if comps.find(i) != comps.find(j)]
        s = scores[open_]
        weights = np.exp(0.5 * epsilon0 * (s - s.max()))
        pick = open_[int(rng.choice(len(open_), p=weights / weights.sum()))]
        i, j = pairs[pick]
        comps.union(i, j)
        edges.append((i, j))
        if progress is not None:
            progress(len(edges))
    return edges


@dataclass(slots=True)
class TreeModel:
    """Sampling order, parents and conditional tables over coarse cells."""

    order: list[int]
    parent: list[int]  # -1 for a root
    marginals: list[list[float]]  # per column: P(coarse cell), used for roots
    conditionals: dict[int, list[list[float]]]  # child → P(child | parent) rows

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """Coarse codes of *n* rows (n × columns), drawn from the root down."""
        out = np.zeros((n, len(self.parent)), dtype=np.int64)
        for col in self.order:
            par = self.parent[col]
            if par < 0:
                p = np.asarray(self.marginals[col])
                out[:, col] = _draw(np.cumsum(p), rng.random(n))
                continue
            table = np.cumsum(np.asarray(self.conditionals[col]), axis=1)
            out[:, col] = draw_rows(table, out[:, par], rng)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "parent": self.parent,
            "marginals": self.marginals,
            "conditionals": {str(k): v for k, v in self.conditionals.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeModel:
        return cls(
            order=list(data["order"]),
            parent=list(data["parent"]),
            marginals=data["marginals"],
            conditionals={int(k): v for k, v in data["conditionals"].items()},
        )


def _draw(cdf: Array, u: Array) -> Array:
    cdf = cdf / cdf[-1]
    idx: Array = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
    return idx


def draw_rows(cdf_rows: Array, given: Array, rng: np.random.Generator) -> Array:
    """One draw per row from the cumulative row ``cdf_rows[given[r]]``."""
    out = np.zeros(len(given), dtype=np.int64)
    u = rng.random(len(given))
    for value in np.unique(given):
        rows = np.flatnonzero(given == value)
        out[rows] = _draw(cdf_rows[value], u[rows])
    return out


def _ipf(table: Array, rows: Array, cols: Array) -> Array:
    """Scale *table* to the row and column margins (both probability vectors)."""
    t: Array = table / table.sum() + _SMOOTH * np.outer(rows, cols)
    for _ in range(_IPF_ROUNDS):
        r = t.sum(axis=1)
        t *= np.divide(rows, r, out=np.zeros_like(r), where=r > 0)[:, None]
        c = t.sum(axis=0)
        t *= np.divide(cols, c, out=np.zeros_like(c), where=c > 0)[None, :]
    return t


def _probabilities(counts: Array) -> Array:
    c = np.maximum(counts, 0.0)
    out: Array = c / c.sum() if c.sum() > 0 else np.full(len(c), 1.0 / len(c))
    return out


def estimate_tree(
    d: int, edges: Sequence[tuple[int, int]], one_way: Sequence[Array], two_way: Sequence[Array]
) -> TreeModel:
    """Orient the tree from column 0 (breadth first) and fit each edge's conditional."""
    margins = [_probabilities(m) for m in one_way]
    neighbours: dict[int, list[tuple[int, int]]] = {i: [] for i in range(d)}
    for k, (i, j) in enumerate(edges):
        neighbours[i].append((j, k))
        neighbours[j].append((i, k))
    parent = [-1] * d
    order: list[int] = []
    seen: set[int] = set()
    conditionals: dict[int, list[list[float]]] = {}
    for root in range(d):
        if root in seen:
            continue
        queue = [root]
        seen.add(root)
        while queue:
            node = queue.pop(0)
            order.append(node)
            for other, k in neighbours[node]:
                if other in seen:
                    continue
                seen.add(other)
                parent[other] = node
                i, _ = edges[k]
                table = norm_sub(two_way[k] if i == node else two_way[k].T)
                conditionals[other] = _conditional(table, margins[node], margins[other])
                queue.append(other)
    return TreeModel(order, parent, [m.tolist() for m in margins], conditionals)


def _conditional(table: Array, parent: Array, child: Array) -> list[list[float]]:
    joint = _ipf(table, parent, child) if table.sum() > 0 else np.outer(parent, child)
    rows = joint.sum(axis=1, keepdims=True)
    cond = np.divide(joint, rows, out=np.tile(child, (len(parent), 1)), where=rows > 0)
    result: list[list[float]] = cond.tolist()
    return result
