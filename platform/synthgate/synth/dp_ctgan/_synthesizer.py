"""DP-CTGAN: a conditional tabular GAN whose critic is trained with DP-SGD.

What the ε covers: DP preprocessing (domains, bounds, quantile transforms,
condition frequencies; see ``_transform``) and DP-SGD on the critic through
Opacus (Poisson sampling, per-sample clipping, Gaussian noise, a number of
steps fixed before training). The generator never sees a real row: it learns
only from the privatised critic, which is post-processing. The total is
composed by the PRV accountant (RDP recorded as a cross-check).
"""

from __future__ import annotations

import enum
import json
import math
import secrets
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch.nn import functional as F  # noqa: N812

from synthgate.contracts import (
    FitResult,
    LogicalType,
    PrivacyRequest,
    PrivacySpent,
    StageSpend,
    TableSchema,
)
from synthgate.errors import ConfigError, SynthesisError
from synthgate.privacy import (
    GaussianMechanism,
    PrivacyAccount,
    calibrate_sgd_noise,
    compose,
    count_rows,
    gaussian_sigma_for_rho,
    planned_count,
    running_epsilon,
    spent_of,
    stage_split,
)
from synthgate.synth._dp_histograms import BOUNDS_PASSES
from synthgate.synth.dp_ctgan._model import Critic, Generator, activate
from synthgate.synth.dp_ctgan._transform import (
    ColumnKind,
    DPTransformer,
    PreprocessingFailed,
    TransformBudget,
)
from synthgate.synth.frames import to_schema_frame

__all__ = [
    "DPCTGANParams",
    "DPCTGANSynthesizer",
    "GanLoss",
    "StepInfo",
    "batch_size_for",
    "make_private_critic",
]

StepInfo = dict[str, float]
ProgressFn = Callable[[int, int, StepInfo], None]
ARTIFACT_FILES = ("generator.pt", "transform.json", "model.json")
_SAMPLE_BATCH = 16_384
DEFAULT_MAX_BATCH = 1000
_DISCRETE = frozenset({LogicalType.CATEGORICAL, LogicalType.TEXT, LogicalType.BOOLEAN})
MIN_BATCH = 16


class GanLoss(enum.StrEnum):
    BCE = "bce"  # non-saturating GAN loss
    WGAN = "wgan"  # Wasserstein loss with weight clipping


class DPCTGANParams(BaseModel):
    """Training parameters. Defaults train in a few minutes on a laptop CPU."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(
        default=30, ge=1, le=2000, description="passes over the data (sets the fixed step count)"
    )
    batch_size: int | None = Field(
        default=None,
        ge=16,
        le=100_000,
        description=(
            "expected Poisson batch size; when not set, chosen from the training rows n "
            "(a public fact, like the step count): min(1000, max(16, n // 10), n), so a "
            "table gets at least 10 batches per epoch and small tables train too"
        ),
    )
    max_grad_norm: float = Field(
        default=1.0, gt=0, le=100, description="per-sample clipping norm C"
    )
    generator_lr: float = Field(default=2e-4, gt=0, le=1)
    critic_lr: float = Field(default=2e-4, gt=0, le=1)
    betas: tuple[float, float] = (0.5, 0.9)
    noise_dim: int = Field(default=128, ge=8, le=1024)
    generator_dims: tuple[int, ...] = (256, 256)
    critic_dims: tuple[int, ...] = (256, 256)
    loss: GanLoss = GanLoss.BCE
    weight_clip: float = Field(
        default=0.05, gt=0, le=10, description="critic weight bound (wgan loss)"
    )
    preprocessing_share: float = Field(
        default=0.1, gt=0, lt=0.9, description="share of the zCDP budget spent on preprocessing"
    )
    grad_sample_mode: str = Field(
        default="ghost",
        pattern="^(ghost|hooks|functorch)$",
        description="how per-sample gradient norms are computed; ghost never materialises them",
    )
    gumbel_tau: float = Field(default=0.2, gt=0, le=10)

    @model_validator(mode="after")
    def _dims(self) -> DPCTGANParams:
        if not all(1 <= d <= 4096 for d in (*self.generator_dims, *self.critic_dims)):
            raise ValueError("layer sizes must be between 1 and 4096")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError("betas must be in [0, 1)")
        return self


class _WassersteinLoss(torch.nn.Module):
    """Critic loss of a WGAN as a per-sample criterion: −d for real, +d for fake."""

    def __init__(self) -> None:
        super().__init__()
        self.reduction = "mean"

    def forward(self, scores: torch.Tensor, is_real: torch.Tensor) -> torch.Tensor:
        per_sample = (1.0 - 2.0 * is_real) * scores
        if self.reduction == "none":
            return per_sample
        return per_sample.mean() if self.reduction == "mean" else per_sample.sum()


def make_private_critic(
    critic: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: torch.utils.data.DataLoader[Any],
    *,
    noise_multiplier: float,
    max_grad_norm: float,
    grad_sample_mode: str,
    loss: GanLoss,
    sample_rate: float,
    expected_batch: int,
) -> tuple[Any, Any, Any, Any]:
    """Wrap the critic for DP-SGD: Poisson sampling, per-sample clipping, noise.

    The Poisson rate and the batch size that averages the noisy gradient sum are the
    plan's (from the DP row count): Opacus would derive both from the exact count.
    Returns (critic, optimizer, per-sample criterion, Poisson data loader).
    """
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader

    poisson = DPDataLoader(loader.dataset, sample_rate=sample_rate)

    engine = PrivacyEngine(accountant="prv")
    criterion: torch.nn.Module = (
        _WassersteinLoss() if loss is GanLoss.WGAN else torch.nn.BCEWithLogitsLoss()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        private = engine.make_private(
            module=critic,
            optimizer=optimizer,
            data_loader=poisson,
            noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm,
            poisson_sampling=False,  # the loader above samples already
            grad_sample_mode=grad_sample_mode,
            criterion=criterion,
        )
    private[1].expected_batch_size = expected_batch
    if grad_sample_mode == "ghost":
        return private[0], private[1], private[2], private[3]
    return private[0], private[1], criterion, private[2]


def _epsilon_so_far(
    progress: ProgressFn | None,
    fixed: list[GaussianMechanism],
    plan: _Plan,
    privacy: PrivacyRequest,
) -> ProgressFn | None:
    """*progress* with ``epsilon``: what preprocessing and the DP-SGD steps taken so far
    compose to (RDP, an upper bound; recomputed about fifty times per fit and never
    shown above the run's ε, which the final PRV account meets)."""
    if progress is None:
        return None
    every = max(1, plan.steps // 50)
    shown = [0.0]

    def report(step: int, total: int, info: dict[str, float]) -> None:
        if step == 1 or step % every == 0 or step == total:
            sgd = GaussianMechanism("train", "dp-sgd", plan.sgd_sigma, plan.sample_rate, step)
            so_far = running_epsilon([*fixed, sgd], delta=privacy.delta)
            shown[0] = min(so_far, privacy.epsilon)
        progress(step, total, {**info, "epsilon": shown[0]})

    return report


@dataclass(frozen=True)
class _Plan:
    """What a fit will do, fixed before any row is touched."""

    rows: int
    batch_size: int
    sample_rate: float
    steps: int
    budget: TransformBudget
    preprocessing: list[GaussianMechanism]
    sgd_sigma: float
    count: GaussianMechanism


def _check_types(schema: TableSchema) -> None:
    """Every column a type dp-ctgan models, checked before any mechanism runs."""
    bad = [
        c.name
        for c in schema.columns
        if not (c.type.is_numeric or c.type.is_temporal or c.type in _DISCRETE)
    ]
    if bad:
        raise ConfigError(
            f"dp-ctgan cannot model the type of column(s) {', '.join(bad)}",
            hint="declare a type under synthesis.columns.<column>.type, "
            "or leave them out with source.columns",
        )


def batch_size_for(rows: int) -> int:
    """The default expected batch size for *rows* training rows (see DPCTGANParams)."""
    return max(1, min(DEFAULT_MAX_BATCH, max(MIN_BATCH, rows // 10), rows))


@contextmanager
def _flush_denormal() -> Iterator[None]:
    """Denormal floats flushed to zero while training: on CPUs they slow each step
    several-fold as weights and Adam moments shrink."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _rho_for(epsilon: float, delta: float) -> float:
    """zCDP ρ whose (ε, δ) conversion is ε: ε = ρ + 2√(ρ ln 1/δ)."""
    log = math.log(1.0 / delta)
    return (math.sqrt(log + epsilon) - math.sqrt(log)) ** 2


class DPCTGANSynthesizer:
    name: ClassVar[str] = "dp-ctgan"
    private: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        self.params = DPCTGANParams(**params)
        self._generator: Generator | None = None
        self._transform: DPTransformer | None = None
        self._schema: TableSchema | None = None
        self._account: PrivacyAccount | None = None
        self._training: dict[str, Any] = {}
        self._stages: tuple[StageSpend, ...] = ()
        self._sample_seed = 0
        self._ran: list[GaussianMechanism] = []  # what a fit in progress has run so far
        self._steps_done = 0
        self._counted = False  # whether the plan being made follows the DP row count

    # ------------------------------------------------------------------ planning

    def _plan_preprocessing(
        self, schema: TableSchema, privacy: PrivacyRequest
    ) -> tuple[TransformBudget, list[GaussianMechanism]]:
        """Noise of each preprocessing mechanism, and the mechanisms it will run.

        One pass names the mechanisms per column (what ``DPTransformer.fit`` runs);
        the zCDP share is split over them, bounds at half weight (they need less
        precision than quantiles).
        """
        kinds: list[tuple[str, str]] = []
        for c in schema.columns:
            if c.type in {LogicalType.CATEGORICAL, LogicalType.TEXT} and c.domain is None:
                kinds.append(("partition-selection", c.name))
            elif c.type in {LogicalType.CATEGORICAL, LogicalType.TEXT, LogicalType.BOOLEAN}:
                kinds.append(("histogram", c.name))
            else:
                if c.bounds is None:
                    kinds += [(kind, c.name) for kind in BOUNDS_PASSES]
                kinds.append(("quantiles", c.name))
        discovered = sum(kind == "partition-selection" for kind, _ in kinds)
        selection_delta_total = privacy.delta / 2 if discovered else 0.0
        accountant_delta = privacy.delta - selection_delta_total
        rho_pre = self.params.preprocessing_share * _rho_for(privacy.epsilon, accountant_delta)
        weight = sum(0.5 if kind in BOUNDS_PASSES else 1.0 for kind, _ in kinds)
        unit = rho_pre / max(weight, 1.0)
        sigma = gaussian_sigma_for_rho(unit)
        budget = TransformBudget(
            histogram_sigma=sigma,
            bounds_sigma=gaussian_sigma_for_rho(unit * 0.5),
            quantile_sigma=sigma,
            selection_delta=selection_delta_total / max(discovered, 1),
        )
        noise = {
            "partition-selection": budget.histogram_sigma,
            "histogram": budget.histogram_sigma,
            "quantiles": budget.quantile_sigma,
            **dict.fromkeys(BOUNDS_PASSES, budget.bounds_sigma),
        }
        planned = [
            GaussianMechanism(
                "preprocess",
                f"{kind}:{name}",
                noise[kind],
                extra_delta=budget.selection_delta if kind == "partition-selection" else 0.0,
            )
            for kind, name in kinds
        ]
        return budget, planned

    # ------------------------------------------------------------------ fit

    def _batch_size(self, rows: int) -> int:
        chosen = self.params.batch_size
        if chosen is None:
            return batch_size_for(rows)
        if chosen > rows and self._counted:  # the check ran on the exact size already
            return rows
        if chosen > rows:
            raise ConfigError(
                f"synthesis.params.batch_size {chosen} is larger than the training table",
                hint="remove synthesis.params.batch_size to have it chosen from the table's "
                "size, or set a smaller one",
            )
        return chosen

    def _plan(
        self, rows: int, schema: TableSchema, privacy: PrivacyRequest, count: GaussianMechanism
    ) -> _Plan:
        """Batch, steps and every mechanism's noise for a table of *rows* (the DP count
        on a fit; the exact count only for the checks made before it, whose errors
        release nothing), from public facts: no row is touched."""
        _check_types(schema)
        batch = self._batch_size(rows)
        sample_rate = 1.0 / math.ceil(rows / batch)
        steps = self.params.epochs * math.ceil(rows / batch)
        budget, planned = self._plan_preprocessing(schema, privacy)
        sigma_sgd = calibrate_sgd_noise(
            target_epsilon=privacy.epsilon,
            delta=privacy.delta,
            fixed=[count, *planned],
            sample_rate=sample_rate,
            steps=steps,
        )
        return _Plan(rows, batch, sample_rate, steps, budget, planned, sigma_sgd, count)

    def _counted_plan(
        self, data: pd.DataFrame, schema: TableSchema, privacy: PrivacyRequest
    ) -> tuple[_Plan, PrivacyRequest]:
        """Refusals first (public facts and the exact size: nothing has run, nothing is
        charged), then the DP row count, then the plan every released figure follows."""
        probe = planned_count(len(data), privacy)
        self._counted = False
        self._plan(probe.rows, schema, probe.privacy, probe.mechanism)
        count = count_rows(len(data), privacy, np.random.default_rng(secrets.randbits(63)))
        self._counted = True
        try:
            return self._plan(count.rows, schema, count.privacy, count.mechanism), count.privacy
        except ConfigError as exc:
            spent = compose([count.mechanism], delta=count.privacy.delta).epsilon
            raise SynthesisError(exc.message, hint=exc.hint, spent_epsilon=spent) from None

    def fit(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        *,
        privacy: PrivacyRequest,
        seed: int,
        progress: ProgressFn | None = None,
    ) -> FitResult:
        """Train under DP. A failure once a mechanism has run is a SynthesisError whose
        ``spent_epsilon`` is what the mechanisms that ran compose to."""
        start = time.perf_counter()
        plan, privacy = self._counted_plan(data, schema, privacy)
        self._sample_seed = seed
        self._ran = []
        self._steps_done = 0
        try:
            with _flush_denormal():
                self._fit_planned(data, schema, privacy, plan, progress)
        except PreprocessingFailed as exc:
            ran = [plan.count, *exc.ran]
            raise self._failed(exc.message, exc.hint, privacy, plan, ran=ran) from None
        except SynthesisError as exc:
            raise self._failed(exc.message, exc.hint, privacy, plan) from None
        except Exception as exc:
            message = f"dp-ctgan training failed ({type(exc).__name__})"
            hint = "rerun with --debug for the traceback"
            raise self._failed(message, hint, privacy, plan) from exc
        return FitResult(
            seconds=time.perf_counter() - start,
            params={
                **self.params.model_dump(mode="json"),
                **{k: v for k, v in self._training.items() if k != "preprocessing"},
            },
            privacy=self.privacy_spent(),
        )

    def _failed(
        self,
        message: str,
        hint: str | None,
        privacy: PrivacyRequest,
        plan: _Plan,
        *,
        ran: list[GaussianMechanism] | None = None,
    ) -> SynthesisError:
        """The error for a fit that stopped, with the ε of the mechanisms that ran
        (None when none did): preprocessing, and the DP-SGD steps taken."""
        mechanisms = list(self._ran if ran is None else ran)
        if self._steps_done:
            mechanisms.append(
                GaussianMechanism(
                    "train", "dp-sgd", plan.sgd_sigma, plan.sample_rate, self._steps_done
                )
            )
        spent: float | None = None
        if mechanisms:
            try:
                spent = compose(mechanisms, delta=privacy.delta).epsilon
            except ValueError:
                spent = privacy.epsilon  # the plan's whole ε bounds any part of it
        return SynthesisError(message, hint=hint, spent_epsilon=spent)

    def _fit_planned(
        self,
        data: pd.DataFrame,
        schema: TableSchema,
        privacy: PrivacyRequest,
        plan: _Plan,
        progress: ProgressFn | None,
    ) -> None:
        # Noise must be unpredictable: it is never drawn from the job's seed.
        noise_seed = secrets.randbits(63)
        rng = np.random.default_rng(noise_seed)
        torch.manual_seed(noise_seed)
        # until the transform returns, all may have run
        self._ran = [plan.count, *plan.preprocessing]
        transform, ran = DPTransformer.fit(data, schema, budget=plan.budget, rng=rng)
        self._ran = [plan.count, *ran]
        if [m.mechanism for m in ran] != [m.mechanism for m in plan.preprocessing]:
            raise SynthesisError("preprocessing ran different mechanisms than were accounted for")
        encoded, cats = transform.encode(data)
        spent = _epsilon_so_far(progress, [plan.count, *ran], plan, privacy)
        generator = self._train_private(encoded, cats, transform, plan, rng, spent)
        sgd = GaussianMechanism("train", "dp-sgd", plan.sgd_sigma, plan.sample_rate, plan.steps)
        account = compose([plan.count, *ran, sgd], delta=privacy.delta)
        if account.epsilon > privacy.epsilon * 1.001:
            raise SynthesisError(
                f"composed epsilon {account.epsilon:.4f} exceeds the requested {privacy.epsilon}"
            )
        generator.eval()
        self._stages = stage_split(account)
        self._generator = generator
        self._transform = transform
        self._schema = schema
        self._account = account
        self._training = {
            "rows": plan.rows,
            "batch_size": plan.batch_size,
            "steps": plan.steps,
            "sample_rate": plan.sample_rate,
            "noise_multiplier": plan.sgd_sigma,
            "max_grad_norm": self.params.max_grad_norm,
            "poisson_sampling": True,
            "grad_sample_mode": self.params.grad_sample_mode,
            "accountant": "prv",
            "rdp_epsilon": account.rdp_epsilon,
            "preprocessing": plan.budget.__repr__(),
        }

    def _train_private(
        self,
        encoded: np.ndarray[Any, Any],
        cats: np.ndarray[Any, Any],
        transform: DPTransformer,
        plan: _Plan,
        rng: np.random.Generator,
        progress: ProgressFn | None,
    ) -> Generator:
        """The generator, trained against a critic wrapped for DP-SGD."""
        p = self.params
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(encoded), torch.from_numpy(cats))
        loader = torch.utils.data.DataLoader(dataset, batch_size=plan.batch_size)
        generator = Generator(p.noise_dim, transform.cond_width, p.generator_dims, transform.width)
        critic = Critic(transform.width, transform.cond_width, p.critic_dims)
        opt_g = torch.optim.Adam(generator.parameters(), lr=p.generator_lr, betas=p.betas)
        opt_d = torch.optim.Adam(critic.parameters(), lr=p.critic_lr, betas=p.betas)
        critic_dp, opt_d_dp, criterion, dp_loader = make_private_critic(
            critic,
            opt_d,
            loader,
            noise_multiplier=plan.sgd_sigma,
            max_grad_norm=p.max_grad_norm,
            grad_sample_mode=p.grad_sample_mode,
            loss=p.loss,
            sample_rate=plan.sample_rate,
            expected_batch=max(1, round(plan.sample_rate * plan.rows)),
        )
        if not math.isclose(dp_loader.sample_rate, plan.sample_rate):
            raise SynthesisError(
                "the private data loader's sampling rate differs from the accounted one"
            )
        self._train(
            generator,
            critic_dp,
            criterion,
            opt_g,
            opt_d_dp,
            dp_loader,
            transform,
            plan,
            rng,
            progress,
        )
        return generator

    def _train(
        self,
        generator: Generator,
        critic: Any,
        criterion: Any,
        opt_g: torch.optim.Optimizer,
        opt_d: Any,
        loader: Any,
        transform: DPTransformer,
        plan: _Plan,
        rng: np.random.Generator,
        progress: ProgressFn | None,
    ) -> None:
        p = self.params
        steps = plan.steps
        spans = transform.spans
        cond_index = [
            (next(s for s in spans if s.column == name and s.role == "category"), k)
            for k, (name, _, _) in enumerate(transform.cond_spans)
        ]
        critic_params = list(critic.parameters())
        step = 0
        generator.train()
        critic.train()
        while step < steps:
            for real_x, real_cats in loader:
                if step >= steps:
                    break
                b = real_x.shape[0]
                cond_real = torch.from_numpy(transform.cond_for_rows(real_cats.numpy(), rng))
                # fake rows: a fixed count with conditions drawn from the released
                # counts, so nothing about them depends on this step's real batch
                fb = plan.batch_size
                cond_fake = torch.from_numpy(transform.sample_cond(fb, rng)[0])
                with torch.no_grad():
                    fake = activate(
                        generator(torch.randn(fb, p.noise_dim), cond_fake),
                        spans,
                        tau=p.gumbel_tau,
                        hard=False,
                    )
                x = torch.cat([real_x, fake])
                c = torch.cat([cond_real, cond_fake])
                is_real = torch.cat([torch.ones(b), torch.zeros(fb)])
                opt_d.zero_grad(set_to_none=True)
                loss_d = criterion(critic(x, c).squeeze(1), is_real)
                loss_d.backward()
                opt_d.step()
                if p.loss is GanLoss.WGAN:
                    with torch.no_grad():
                        for q in critic_params:
                            q.clamp_(-p.weight_clip, p.weight_clip)

                # generator step: no real data involved
                critic.disable_hooks()
                for q in critic_params:
                    q.requires_grad_(False)
                gb = plan.batch_size
                cond_np, pick, cat = transform.sample_cond(gb, rng)
                cond = torch.from_numpy(cond_np)
                raw = generator(torch.randn(gb, p.noise_dim), cond)
                fake_g = activate(raw, spans, tau=p.gumbel_tau, hard=False)
                d_gen = critic(fake_g, cond)
                loss_g = -d_gen.mean() if p.loss is GanLoss.WGAN else F.softplus(-d_gen).mean()
                ce = torch.zeros(())
                for span, k in cond_index:
                    rows = torch.from_numpy(np.flatnonzero(pick == k))
                    if rows.numel():
                        logits = raw[rows, span.start : span.start + span.width]
                        ce = ce + F.cross_entropy(
                            logits, torch.from_numpy(cat)[rows], reduction="sum"
                        )
                loss = loss_g + ce / gb
                opt_g.zero_grad(set_to_none=True)
                loss.backward()
                opt_g.step()
                for q in critic_params:
                    q.requires_grad_(True)
                critic.enable_hooks()
                step += 1
                self._steps_done = step
                if progress is not None:
                    progress(
                        step,
                        steps,
                        {
                            "loss_critic": float(loss_d.item()),
                            "loss_generator": float(loss_g.item()),
                        },
                    )

    # ------------------------------------------------------------------ sample

    def sample(
        self, n: int, *, conditions: Mapping[str, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        if self._generator is None or self._transform is None or self._schema is None:
            raise SynthesisError("sample() called before fit() or load()")
        if n < 1:
            raise SynthesisError(f"number of rows must be >= 1, got {n}")
        gen = self._generator
        tf = self._transform
        torch_rng = torch.Generator().manual_seed(self._sample_seed if seed is None else seed)
        np_rng = np.random.default_rng(self._sample_seed if seed is None else seed)
        frames: list[pd.DataFrame] = []
        have = 0
        tries = 0
        while have < n:
            tries += 1
            if tries > 50:
                raise SynthesisError(
                    f"could not generate {n} rows matching {dict(conditions or {})} "
                    f"(got {have}); the model rarely produces them"
                )
            batch = min(_SAMPLE_BATCH, max(n - have, 1) * (2 if conditions else 1))
            if conditions:
                cond = tf.fixed_cond(conditions, batch)
            else:
                cond = tf.sample_cond(batch, np_rng)[0]
            with torch.no_grad():
                noise = torch.randn(batch, self.params.noise_dim, generator=torch_rng)
                raw = gen(noise, torch.from_numpy(cond))
                out = _hard(raw, tf)
            frame = tf.decode(out.numpy())
            if conditions:
                mask = np.ones(len(frame), dtype=bool)
                for name, value in conditions.items():
                    mask &= (frame[name] == value).to_numpy()
                frame = frame[mask]
            frames.append(frame)
            have += len(frame)
        result = pd.concat(frames, ignore_index=True).iloc[:n].reset_index(drop=True)
        return to_schema_frame(result, self._schema)

    def released_rows(self) -> int:
        """The training table's size as the fit's DP row count tells it."""
        if self._transform is None:
            raise SynthesisError("released_rows() called before fit() or load()")
        return int(self._training.get("rows", 1))

    def released_domain(self, column: str) -> list[Any]:
        if self._transform is None:
            raise SynthesisError("released_domain() called before fit() or load()")
        info = self._transform.column(column)
        if info.kind is not ColumnKind.CATEGORICAL:
            raise SynthesisError(f"column {column!r} is not categorical")
        return list(info.categories)

    # ------------------------------------------------------------------ privacy

    def privacy_spent(self) -> PrivacySpent:
        return spent_of(self._account, stages=self._stages if self._account else None)

    # ------------------------------------------------------------------ artifact

    def save(self, folder: Path) -> list[Path]:
        """Write only the generator, the DP transform metadata and the ledger."""
        if (
            self._generator is None
            or self._transform is None
            or self._schema is None
            or self._account is None
        ):
            raise SynthesisError("save() called before fit()")
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f for f in ARTIFACT_FILES]
        torch.save(self._generator.state_dict(), paths[0])
        paths[1].write_text(json.dumps(self._transform.to_dict(), sort_keys=True), "utf-8")
        paths[2].write_text(
            json.dumps(
                {
                    "synthesizer": self.name,
                    "params": self.params.model_dump(mode="json"),
                    "schema": self._schema.to_dict(),
                    "account": self._account.to_dict(),
                    "training": self._training,
                },
                sort_keys=True,
                default=str,
            ),
            "utf-8",
        )
        return paths

    @classmethod
    def load(cls, folder: Path, *, sample_seed: int = 0) -> DPCTGANSynthesizer:
        model = json.loads((folder / "model.json").read_text("utf-8"))
        synth = cls(**model["params"])
        transform = DPTransformer.from_dict(
            json.loads((folder / "transform.json").read_text("utf-8"))
        )
        p = synth.params
        generator = Generator(p.noise_dim, transform.cond_width, p.generator_dims, transform.width)
        generator.load_state_dict(torch.load(folder / "generator.pt", weights_only=True))
        generator.eval()
        acc = model["account"]
        synth._generator = generator
        synth._transform = transform
        synth._schema = TableSchema.from_dict(model["schema"])
        synth._account = PrivacyAccount(
            epsilon=acc["epsilon"],
            delta=acc["delta"],
            accountant=acc["accountant"],
            rdp_epsilon=acc["rdp_epsilon"],
            accountant_delta=acc["accountant_delta"],
            mechanisms=tuple(GaussianMechanism(**m) for m in acc["mechanisms"]),
        )
        synth._training = model["training"]
        synth._stages = stage_split(synth._account)
        synth._sample_seed = sample_seed
        return synth


def _hard(raw: torch.Tensor, tf: DPTransformer) -> torch.Tensor:
    """Deterministic decoding of generator output: argmax per softmax span."""
    out = raw.clone()
    for span in tf.spans:
        if span.activation == "softmax":
            block = raw[:, span.start : span.start + span.width]
            out[:, span.start : span.start + span.width] = F.one_hot(
                block.argmax(dim=1), span.width
            ).to(raw.dtype)
    return out
