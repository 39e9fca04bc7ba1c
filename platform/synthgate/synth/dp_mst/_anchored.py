"""dp-mst around a target column: every measurement conditioned on it.

When the job names a target column (a public fact of the spec), the model is a
tree-augmented naive Bayes network: the target is the root, every other column
depends on the target and on at most one other column. Measured under DP:
each column's 2-way table with the target, then a spanning tree over the other
columns chosen by the exponential mechanism with scores conditioned on the
target, then one 3-way table (target, parent, child) per tree edge. A model
trained on the synthetic rows then sees how every column moves with the target,
which a plain tree (where the target has a few neighbours) cannot give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthgate.synth._dp_histograms import norm_sub
from synthgate.synth.dp_mst._tree import (
    TreeModel,
    consistent_pair,
    orient,
    pair_counts,
    probabilities,
    spanning_tree,
)

__all__ = ["AnchoredNoise", "fit_anchored"]

Array = np.ndarray[Any, Any]
_IPF_ROUNDS = 30


@dataclass(frozen=True, slots=True)
class AnchoredNoise:
    anchor_sigma: float  # the 2-way tables with the target
    epsilon0: float  # each tree edge's exponential mechanism
    triple_sigma: float  # the 3-way tables (target, parent, child)


def _triple_counts(a: Array, b: Array, c: Array, sizes: tuple[int, int, int]) -> Array:
    ka, kb, kc = sizes
    flat = np.bincount((a * kb + b) * kc + c, minlength=ka * kb * kc)
    table: Array = flat.reshape(ka, kb, kc).astype(np.float64)
    return table


def _fit_triple(table: Array, left: Array, right: Array) -> Array:
    """A noisy (target, parent, child) table fitted to the (target, parent) and
    (target, child) joints (probabilities); rows: P(child | target, parent)."""
    t = norm_sub(table)
    t = t / t.sum() if t.sum() > 0 else np.ones_like(t) / t.size
    t = t + 1e-6 * left[:, :, None] * right[:, None, :]
    for _ in range(_IPF_ROUNDS):
        s = t.sum(axis=2)
        t *= np.divide(left, s, out=np.zeros_like(s), where=s > 0)[:, :, None]
        s = t.sum(axis=1)
        t *= np.divide(right, s, out=np.zeros_like(s), where=s > 0)[:, None, :]
    ka, kb, kc = t.shape
    flat = t.reshape(ka * kb, kc)
    rows = flat.sum(axis=1, keepdims=True)
    fallback = np.repeat(_rows_or_margin(right), kb, axis=0)
    cond: Array = np.divide(flat, rows, out=fallback, where=rows > 0)
    return cond


def fit_anchored(
    codes: Array,
    sizes: Sequence[int],
    one_way: Sequence[Array],
    anchor: int,
    noise: AnchoredNoise,
    rng: np.random.Generator,
    progress: Callable[[int], None],
) -> tuple[TreeModel, list[tuple[int, int]]]:
    """The anchored network and its feature edges. Runs, in order: one 2-way per
    feature (with the anchor), one exponential mechanism per edge, one 3-way per edge."""
    d = len(sizes)
    margins = [probabilities(m) for m in one_way]
    features = [i for i in range(d) if i != anchor]
    joint: dict[int, Array] = {}
    for step, f in enumerate(features, start=1):
        real = pair_counts(codes[:, anchor], codes[:, f], sizes[anchor], sizes[f])
        noisy = real + rng.normal(0.0, noise.anchor_sigma, size=real.shape)
        joint[f] = consistent_pair(noisy, margins[anchor], margins[f])
        progress(step)
    edges = _select(codes, sizes, one_way, anchor, features, joint, noise.epsilon0, rng)
    progress(2 * len(features) - 1)
    parents: list[list[int]] = [[] for _ in range(d)]
    conditionals: dict[int, list[list[float]]] = {}
    for f in features:
        parents[f] = [anchor]
        conditionals[f] = _rows(joint[f])
    arcs = orient(features, edges)
    for parent, child, _ in arcs:
        real = _triple_counts(
            codes[:, anchor],
            codes[:, parent],
            codes[:, child],
            (sizes[anchor], sizes[parent], sizes[child]),
        )
        noisy = real + rng.normal(0.0, noise.triple_sigma, size=real.shape)
        conditionals[child] = _fit_triple(noisy, joint[parent], joint[child]).tolist()
        parents[child] = [anchor, parent]
    progress(3 * len(features) - 2)
    children = [c for _, c, _ in arcs]
    order = [anchor] + [f for f in features if f not in children] + children
    model = TreeModel(order, parents, list(sizes), [m.tolist() for m in margins], conditionals)
    return model, edges


def _rows_or_margin(joint: Array) -> Array:
    """P(column | anchor) from a joint table; an anchor value without mass (never drawn
    unconditionally, but a condition may name it) gets the column's margin."""
    rows = joint.sum(axis=1, keepdims=True)
    margin = joint.sum(axis=0)
    margin = (
        margin / margin.sum() if margin.sum() > 0 else np.full(joint.shape[1], 1.0 / joint.shape[1])
    )
    cond: Array = np.divide(joint, rows, out=np.tile(margin, (joint.shape[0], 1)), where=rows > 0)
    return cond


def _rows(joint: Array) -> list[list[float]]:
    result: list[list[float]] = _rows_or_margin(joint).tolist()
    return result


def _select(
    codes: Array,
    sizes: Sequence[int],
    one_way: Sequence[Array],
    anchor: int,
    features: list[int],
    joint: dict[int, Array],
    epsilon0: float,
    rng: np.random.Generator,
) -> list[tuple[int, int]]:
    """Score each feature pair by ‖M_aij − N̂·P(a)P(i|a)P(j|a)‖₁ (sensitivity 1) and draw
    a spanning tree over the features."""
    total = float(np.mean([max(float(m.sum()), 1.0) for m in one_way]))
    p_anchor = probabilities(one_way[anchor])
    pairs = [(i, j) for k, i in enumerate(features) for j in features[k + 1 :]]
    scores = np.empty(len(pairs))
    for k, (i, j) in enumerate(pairs):
        real = _triple_counts(
            codes[:, anchor], codes[:, i], codes[:, j], (sizes[anchor], sizes[i], sizes[j])
        )
        given = np.divide(1.0, p_anchor, out=np.zeros_like(p_anchor), where=p_anchor > 0)
        expected = joint[i][:, :, None] * joint[j][:, None, :] * given[:, None, None]
        scores[k] = np.abs(real - total * expected).sum()
    return spanning_tree(features, pairs, scores, epsilon0, rng)
