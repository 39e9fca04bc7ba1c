"""dp-mst: the MST marginal synthesizer (McKenna, Miklau & Sheldon 2021) on numpy.

What the ε covers, every step that reads a real row:
1. domain discovery: DP partition selection for undeclared categories, DP
   bounds on a fixed log grid for undeclared numeric ranges;
2. one noisy 1-way histogram per column (its cells, nulls included);
3. the exponential mechanism choosing each of the d − 1 tree edges;
4. one noisy 2-way histogram per tree edge.
Gaussian mechanisms are ρ-zCDP with ρ = 1/2σ²; the exponential mechanism at ε₀
is ε₀²/8-zCDP. The total is composed by the RDP accountant (the exponential
mechanism has no PRV form) and calibrated to the requested ε before any row is
read. Everything after the measurements is post-processing.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthgate.contracts import FitResult, PrivacyRequest, PrivacySpent, TableSchema
from synthgate.errors import SynthesisError
from synthgate.privacy import (
    GaussianMechanism,
    PrivacyAccount,
    compose,
    count_rho,
    count_rows,
    exponential_mechanism,
    gaussian_sigma_for_rho,
    rdp_rho_for_epsilon,
    spent_of,
)
from synthgate.synth.dp_mst._anchored import AnchoredNoise, fit_anchored
from synthgate.synth.dp_mst._domain import (
    CellKind,
    ColumnDomain,
    DomainBudget,
    discovery_mechanisms,
    fit_domain,
    group_cells,
    noise_floor,
    trim_noise,
)
from synthgate.synth.dp_mst._tree import (
    TreeModel,
    draw_rows,
    estimate_tree,
    pair_counts,
    select_tree,
)
from synthgate.synth.frames import to_schema_frame

__all__ = ["DPMSTParams", "DPMSTSynthesizer"]

ProgressFn = Callable[[int, int, dict[str, float]], None]
MODEL_FILE = "model.json"
_MAX_TRIES = 200
SELECTION_WEIGHT = 3.0  # a partition selection's share of discovery against one bounds pass
ANCHOR_SHARE = 0.4  # with a target: the share of the pair budget for each column x target


class DPMSTParams(BaseModel):
    """How the zCDP budget is shared; the rest goes to the tree's 2-way marginals."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    discovery_share: float = Field(
        default=0.15, gt=0, lt=0.5, description="domain discovery (categories, numeric bounds)"
    )
    one_way_share: float = Field(default=0.2, gt=0, lt=0.8, description="1-way histograms")
    selection_share: float = Field(
        default=0.15, gt=0, lt=0.5, description="exponential mechanism choosing the tree"
    )
    max_categories: int = Field(default=200, ge=2, le=2000)
    target: str | None = Field(
        default=None,
        description="a column every measurement is conditioned on (the spec's target column)",
    )

    @model_validator(mode="after")
    def _shares(self) -> DPMSTParams:
        if self.discovery_share + self.one_way_share + self.selection_share >= 0.95:
            raise ValueError("discovery, 1-way and selection shares must leave ≥ 5% for pairs")
        return self

    @property
    def two_way_share(self) -> float:
        return 1.0 - self.discovery_share - self.one_way_share - self.selection_share


class _Plan:
    """Every mechanism's noise, fixed from public facts (the schema) before a row is read.

    The zCDP budget ρ is the largest whose RDP composition stays within the
    requested ε; it is shared by weight, and a part with nothing to do (no
    discovery when every domain is declared, no tree for one column) gives its
    weight to the others.
    """

    def __init__(
        self,
        params: DPMSTParams,
        schema: TableSchema,
        privacy: PrivacyRequest,
        count: GaussianMechanism,
    ) -> None:
        cols = schema.columns
        d = len(cols)
        names = [c.name for c in cols]
        self.anchor = names.index(params.target) if params.target in names and d > 1 else None
        anchors = d - 1 if self.anchor is not None else 0
        edges = max(d - 1 - (self.anchor is not None), 0)
        probe = DomainBudget(1.0, 1.0, 0.0)
        planned = [m for c in cols for m in discovery_mechanisms(c, probe)]
        selected = sum(m.mechanism.startswith("partition-selection:") for m in planned)
        selection_delta = privacy.delta / 2 / selected if selected else 0.0
        rho = rdp_rho_for_epsilon(privacy.epsilon, privacy.delta - selection_delta * selected)
        rho -= count_rho(count)  # the row count ran first, from the same budget
        weights = {
            "discovery": params.discovery_share if planned else 0.0,
            "one_way": params.one_way_share,
            "select": params.selection_share if edges else 0.0,
            "anchor": params.two_way_share * (ANCHOR_SHARE if edges else 1.0) if anchors else 0.0,
            "two_way": params.two_way_share * (1.0 - ANCHOR_SHARE if anchors else 1.0)
            if edges
            else 0.0,
        }
        part = {k: rho * w / sum(weights.values()) for k, w in weights.items()}
        # partition selection decides which categories exist at all: it weighs more than a
        # bounds pass, whose error only widens or narrows a range by a bin
        weight = SELECTION_WEIGHT * selected + (len(planned) - selected)
        unit = part["discovery"] / weight if planned else 1.0
        self.discovery = DomainBudget(
            gaussian_sigma_for_rho(unit * SELECTION_WEIGHT),
            gaussian_sigma_for_rho(unit),
            selection_delta,
            max_categories=params.max_categories,
        )
        self.one_way_sigma = gaussian_sigma_for_rho(part["one_way"] / d)
        self.epsilon0 = math.sqrt(8.0 * part["select"] / edges) if edges else 0.0
        self.two_way_sigma = gaussian_sigma_for_rho(part["two_way"] / edges) if edges else 1.0
        self.anchor_sigma = gaussian_sigma_for_rho(part["anchor"] / anchors) if anchors else 1.0
        mechs = [count, *(m for c in cols for m in discovery_mechanisms(c, self.discovery))]
        mechs += [GaussianMechanism("measure", f"1-way:{n}", self.one_way_sigma) for n in names]
        mechs += [
            GaussianMechanism("measure", f"2-way:target-{k + 1}", self.anchor_sigma)
            for k in range(anchors)
        ]
        mechs += [
            exponential_mechanism("select", f"tree-edge:{k + 1}", self.epsilon0)
            for k in range(edges)
        ]
        kind = "3-way" if anchors else "2-way"
        mechs += [
            GaussianMechanism("measure", f"{kind}:edge-{k + 1}", self.two_way_sigma)
            for k in range(edges)
        ]
        self.mechanisms = mechs


def noise_generator() -> np.random.Generator:
    """The source of every DP noise draw: fresh OS entropy, never the job's seed
    (a known seed would let anyone subtract the noise). Tests replace it."""
    return np.random.default_rng(secrets.randbits(63))


class DPMSTSynthesizer:
    name: ClassVar[str] = "dp-mst"
    private: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        self.params = DPMSTParams(**params)
        self._domains: list[ColumnDomain] = []
        self._tree: TreeModel | None = None
        self._schema: TableSchema | None = None
        self._account: PrivacyAccount | None = None
        self._edges: list[tuple[str, str]] = []
        self._sample_seed = 0
        self._rows = 0

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        progress: ProgressFn | None = None,
    ) -> FitResult:
        start = time.perf_counter()
        rng = noise_generator()
        count = count_rows(len(data), privacy, rng)
        privacy = count.privacy
        plan = _Plan(self.params, schema, privacy, count.mechanism)
        self._sample_seed = seed
        self._rows = count.rows
        ran: list[GaussianMechanism] = [count.mechanism]
        domains: list[ColumnDomain] = []
        for col in schema.columns:
            dom, mechs = fit_domain(data[col.name], col, plan.discovery, rng)
            domains.append(dom)
            ran.extend(mechs)
        fine = np.column_stack([dom.encode_fine(data[dom.name]) for dom in domains])
        del data  # nothing below reads raw values
        one_way = self._measure_one_way(domains, fine, plan.one_way_sigma, rng)
        ran += [m for m in plan.mechanisms if m.mechanism.startswith("1-way:")]
        coarse = np.column_stack([dom.encode_coarse(fine[:, i]) for i, dom in enumerate(domains)])
        sizes = [dom.coarse_cells for dom in domains]
        d = len(domains)
        report = _reporter(progress, 3 * max(d - 1, 0))
        if plan.anchor is not None:
            noise = AnchoredNoise(plan.anchor_sigma, plan.epsilon0, plan.two_way_sigma)
            tree, edges = fit_anchored(coarse, sizes, one_way, plan.anchor, noise, rng, report)
        else:
            tree, edges = self._fit_tree(coarse, sizes, one_way, plan, rng, report)
        ran += [m for m in plan.mechanisms if m.stage != "preprocess" and m not in ran]
        if [m.mechanism for m in ran] != [m.mechanism for m in plan.mechanisms]:
            raise SynthesisError("dp-mst ran different mechanisms than were accounted for")
        account = compose(ran, delta=privacy.delta)
        if account.epsilon > privacy.epsilon * 1.001:
            raise SynthesisError(
                f"composed epsilon {account.epsilon:.4f} exceeds the requested {privacy.epsilon}"
            )
        self._domains = domains
        self._tree = tree
        self._schema = schema
        self._account = account
        self._edges = [(domains[i].name, domains[j].name) for i, j in edges]
        return FitResult(
            seconds=time.perf_counter() - start,
            params={
                **self.params.model_dump(mode="json"),
                "tree": [f"{a} ~ {b}" for a, b in self._edges],
                "released_empty": [dom.name for dom in domains if dom.kind is CellKind.EMPTY],
                "accountant": account.accountant,
                "one_way_sigma": plan.one_way_sigma,
                "two_way_sigma": plan.two_way_sigma,
                "selection_epsilon0": plan.epsilon0,
            },
            privacy=self.privacy_spent(),
        )

    @staticmethod
    def _fit_tree(
        coarse: np.ndarray[Any, Any],
        sizes: list[int],
        one_way: list[np.ndarray[Any, Any]],
        plan: _Plan,
        rng: np.random.Generator,
        report: Callable[[int], None],
    ) -> tuple[TreeModel, list[tuple[int, int]]]:
        """Plain MST: a spanning tree of pairs, then a noisy 2-way table per edge."""
        d = len(sizes)
        edges = (
            select_tree(coarse, sizes, one_way, epsilon0=plan.epsilon0, rng=rng, progress=report)
            if d > 1
            else []
        )
        two_way = []
        for k, (i, j) in enumerate(edges):
            real = pair_counts(coarse[:, i], coarse[:, j], sizes[i], sizes[j])
            two_way.append(real + rng.normal(0.0, plan.two_way_sigma, size=real.shape))
            report(d - 1 + k + 1)
        return estimate_tree(d, edges, one_way, two_way, sizes), edges

    @staticmethod
    def _measure_one_way(
        domains: list[ColumnDomain],
        fine: np.ndarray[Any, Any],
        sigma: float,
        rng: np.random.Generator,
    ) -> list[np.ndarray[Any, Any]]:
        """Noisy fine histograms (floored), then each column's coarse grouping and counts."""
        coarse_counts = []
        for i, dom in enumerate(domains):
            counts = np.bincount(fine[:, i], minlength=dom.fine_cells).astype(np.float64)
            noisy = counts + rng.normal(0.0, sigma, size=counts.shape)
            noisy = trim_noise(dom, noisy, noise_floor(sigma, dom.fine_cells))
            dom.fine_counts = noisy.tolist()
            dom.groups = group_cells(dom, dom.fine_counts)
            groups = np.asarray(dom.groups or list(range(dom.fine_cells)))
            coarse_counts.append(np.bincount(groups, weights=noisy, minlength=dom.coarse_cells))
        return coarse_counts

    # ------------------------------------------------------------------ sample

    def sample(
        self, n: int, *, conditions: Mapping[str, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        if self._tree is None or self._schema is None:
            raise SynthesisError("sample() called before fit() or load()")
        if n < 1:
            raise SynthesisError(f"number of rows must be >= 1, got {n}")
        rng = np.random.default_rng(self._sample_seed if seed is None else seed)
        if not conditions:
            return to_schema_frame(self._draw(n, rng), self._schema)
        for name, value in conditions.items():
            if value not in self.released_domain(name):
                raise SynthesisError(
                    f"cannot condition on {name}: the value is not in the column's released domain"
                )
        frames: list[pd.DataFrame] = []
        have = 0
        for _ in range(_MAX_TRIES):
            frame = self._draw(max(2 * (n - have), 1024), rng)
            keep = np.ones(len(frame), dtype=bool)
            for name, value in conditions.items():
                keep &= (frame[name] == value).to_numpy()
            frames.append(frame[keep])
            have += int(keep.sum())
            if have >= n:
                result = pd.concat(frames, ignore_index=True).iloc[:n].reset_index(drop=True)
                return to_schema_frame(result, self._schema)
        raise SynthesisError(
            f"could not generate {n} rows for the requested condition (got {have}); "
            "the model rarely produces it"
        )

    def sample_given(
        self, column: str, values: Sequence[Any], *, seed: int | None = None
    ) -> pd.DataFrame:
        """One row per item of *values*, each drawn from the model given that value of
        *column*: exact, not by rejection. *column* must be a categorical root of the
        fitted tree (the ``target`` of a fit with one), and every value in its
        released domain."""
        if self._tree is None or self._schema is None:
            raise SynthesisError("sample_given() called before fit() or load()")
        index = next((i for i, d in enumerate(self._domains) if d.name == column), None)
        if index is None or self._tree.parents[index] or not len(values):
            raise SynthesisError(
                f"cannot sample given {column!r}: it is not a root column of the model, "
                "or no values were given"
            )
        lookup = {v: i for i, v in enumerate(self.released_domain(column))}
        codes = np.array([lookup.get(v, -1) for v in values], dtype=np.int64)
        if (codes < 0).any():
            raise SynthesisError(
                f"cannot condition on {column}: a value is not in the column's released domain"
            )
        rng = np.random.default_rng(self._sample_seed if seed is None else seed)
        frame = self._draw(len(codes), rng, fixed={index: codes})
        return to_schema_frame(frame, self._schema)

    def _draw(
        self,
        n: int,
        rng: np.random.Generator,
        fixed: Mapping[int, np.ndarray[Any, Any]] | None = None,
    ) -> pd.DataFrame:
        assert self._tree is not None
        coarse = self._tree.sample(n, rng, fixed)
        out: dict[str, Any] = {}
        for i, dom in enumerate(self._domains):
            fine = draw_rows(np.cumsum(dom.fine_given_coarse(), axis=1), coarse[:, i], rng)
            out[dom.name] = dom.decode(fine, rng).to_numpy()
        return pd.DataFrame(out)

    def released_rows(self) -> int:
        """The training table's size as its DP row count tells it (post-processing:
        a default synthetic row count reveals no exact count)."""
        if self._tree is None:
            raise SynthesisError("released_rows() called before fit() or load()")
        return self._rows

    def released_domain(self, column: str) -> list[Any]:
        dom = next((d for d in self._domains if d.name == column), None)
        if dom is None or dom.kind is not CellKind.CATEGORY:
            raise SynthesisError(f"column {column!r} is not a modelled categorical column")
        return list(dom.categories)

    # ------------------------------------------------------------------ privacy

    def privacy_spent(self) -> PrivacySpent:
        return spent_of(self._account)

    # ------------------------------------------------------------------ artifact

    def save(self, folder: Path) -> list[Path]:
        """The released domains, the fitted tree and the ledger: DP outputs only."""
        if self._tree is None or self._schema is None or self._account is None:
            raise SynthesisError("save() called before fit()")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / MODEL_FILE
        model = {
            "synthesizer": self.name,
            "params": self.params.model_dump(mode="json"),
            "schema": self._schema.to_dict(),
            "domains": [d.to_dict() for d in self._domains],
            "tree": self._tree.to_dict(),
            "edges": self._edges,
            "account": self._account.to_dict(),
            "rows": self._rows,
        }
        path.write_text(json.dumps(model, sort_keys=True, default=str), "utf-8")
        return [path]

    @classmethod
    def load(cls, folder: Path, *, sample_seed: int = 0) -> DPMSTSynthesizer:
        model = json.loads((folder / MODEL_FILE).read_text("utf-8"))
        synth = cls(**model["params"])
        synth._schema = TableSchema.from_dict(model["schema"])
        synth._domains = [ColumnDomain.from_dict(d) for d in model["domains"]]
        synth._tree = TreeModel.from_dict(model["tree"])
        synth._edges = [(a, b) for a, b in model["edges"]]
        synth._account = PrivacyAccount.from_dict(model["account"])
        synth._rows = int(model.get("rows") or _histogram_rows(synth._domains))
        synth._sample_seed = sample_seed
        return synth


def _histogram_rows(domains: list[ColumnDomain]) -> int:
    """The mean total of the DP 1-way histograms: the row count of a model saved
    before the row count was its own mechanism."""
    totals = [sum(d.fine_counts) for d in domains if d.fine_counts]
    return max(1, round(float(np.mean(totals)))) if totals else 1


def _reporter(progress: ProgressFn | None, total: int) -> Callable[[int], None]:
    def report(step: int) -> None:
        if progress is not None and total:
            progress(step, total, {})

    return report
