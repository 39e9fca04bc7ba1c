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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthgate.synth._dp_histograms import norm_sub

__all__ = [
    "TreeModel",
    "consistent_pair",
    "estimate_tree",
    "orient",
    "pair_counts",
    "probabilities",
    "select_tree",
    "spanning_tree",
]

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
    probs = [probabilities(m) for m in one_way]
    scores = np.empty(len(pairs))
    for k, (i, j) in enumerate(pairs):
        real = pair_counts(codes[:, i], codes[:, j], sizes[i], sizes[j])
        scores[k] = np.abs(real - total * np.outer(probs[i], probs[j])).sum()
    return spanning_tree(list(range(d)), pairs, scores, epsilon0, rng, progress)


def spanning_tree(
    nodes: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    scores: Array,
    epsilon0: float,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[int, int]]:
    """Kruskal's algorithm with each edge drawn by the exponential mechanism at ε₀
    (probability ∝ exp(ε₀·score/2), scores of sensitivity 1) among the pairs that
    join two components: len(nodes) − 1 draws."""
    comps = _Components(max(nodes, default=-1) + 1)
    edges: list[tuple[int, int]] = []
    for _ in range(len(nodes) - 1):
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
    """A Bayesian network over coarse cells: each column's parents and the table of
    P(column | parents), its rows in the mixed-radix order of the parents' cells."""

    order: list[int]
    parents: list[list[int]]  # [] for a root
    sizes: list[int]
    marginals: list[list[float]]  # per column: P(coarse cell), used for roots
    conditionals: dict[int, list[list[float]]]

    def sample(
        self, n: int, rng: np.random.Generator, fixed: Mapping[int, Array] | None = None
    ) -> Array:
        """Coarse codes of *n* rows (n × columns), drawn from the roots down.

        *fixed* gives the codes of some root columns (one per row): the other
        columns are then drawn from the model given them, exactly."""
        out = np.zeros((n, len(self.parents)), dtype=np.int64)
        for col in self.order:
            given = self.parents[col]
            if fixed is not None and col in fixed:
                if given:
                    raise ValueError(f"column {col} has parents in the tree: it cannot be fixed")
                out[:, col] = fixed[col]
                continue
            if not given:
                p = np.asarray(self.marginals[col])
                out[:, col] = _draw(np.cumsum(p), rng.random(n))
                continue
            row: Array = np.zeros(n, dtype=np.int64)
            for parent in given:
                row = row * self.sizes[parent] + out[:, parent]
            table = np.cumsum(np.asarray(self.conditionals[col]), axis=1)
            out[:, col] = draw_rows(table, row, rng)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "parents": self.parents,
            "sizes": self.sizes,
            "marginals": self.marginals,
            "conditionals": {str(k): v for k, v in self.conditionals.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeModel:
        return cls(
            order=list(data["order"]),
            parents=[list(p) for p in data["parents"]],
            sizes=list(data["sizes"]),
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


def probabilities(counts: Array) -> Array:
    c = np.maximum(counts, 0.0)
    out: Array = c / c.sum() if c.sum() > 0 else np.full(len(c), 1.0 / len(c))
    return out


def orient(nodes: Sequence[int], edges: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(parent, child, edge index) in breadth-first order from the first node of each
    component; a node without edges is a root."""
    neighbours: dict[int, list[tuple[int, int]]] = {i: [] for i in nodes}
    for k, (i, j) in enumerate(edges):
        neighbours[i].append((j, k))
        neighbours[j].append((i, k))
    seen: set[int] = set()
    out: list[tuple[int, int, int]] = []
    for root in nodes:
        if root in seen:
            continue
        queue = [root]
        seen.add(root)
        while queue:
            node = queue.pop(0)
            for other, k in neighbours[node]:
                if other not in seen:
                    seen.add(other)
                    out.append((node, other, k))
                    queue.append(other)
    return out


def estimate_tree(
    d: int,
    edges: Sequence[tuple[int, int]],
    one_way: Sequence[Array],
    two_way: Sequence[Array],
    sizes: Sequence[int],
) -> TreeModel:
    """Orient the tree from column 0 (breadth first) and fit each edge's conditional."""
    margins = [probabilities(m) for m in one_way]
    parents: list[list[int]] = [[] for _ in range(d)]
    conditionals: dict[int, list[list[float]]] = {}
    arcs = orient(list(range(d)), edges)
    for parent, child, k in arcs:
        i, _ = edges[k]
        table = two_way[k] if i == parent else two_way[k].T
        conditionals[child] = _conditional(table, margins[parent], margins[child])
        parents[child] = [parent]
    children = {c for _, c, _ in arcs}
    order = [i for i in range(d) if i not in children] + [c for _, c, _ in arcs]
    return TreeModel(order, parents, list(sizes), [m.tolist() for m in margins], conditionals)


def consistent_pair(table: Array, rows: Array, cols: Array) -> Array:
    """A noisy 2-way table, non-negative, fitted to its noisy margins (probabilities)."""
    t = norm_sub(table)
    joint: Array = _ipf(t, rows, cols) if t.sum() > 0 else np.outer(rows, cols)
    return joint


def _conditional(table: Array, parent: Array, child: Array) -> list[list[float]]:
    joint = consistent_pair(table, parent, child)
    rows = joint.sum(axis=1, keepdims=True)
    cond = np.divide(joint, rows, out=np.tile(child, (len(parent), 1)), where=rows > 0)
    result: list[list[float]] = cond.tolist()
    return result
