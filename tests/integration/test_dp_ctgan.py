"""DP-CTGAN: the properties its ε rests on, checked on small real fits."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from synthgate.contracts import ColumnSchema, LogicalType, PrivacyRequest, TableSchema
from synthgate.errors import ConfigError, SynthesisError
from synthgate.privacy import GaussianMechanism, compose
from synthgate.synth.dp_ctgan import DPCTGANSynthesizer
from synthgate.synth.dp_ctgan._model import Critic
from synthgate.synth.dp_ctgan._synthesizer import ARTIFACT_FILES, GanLoss, make_private_critic

warnings.simplefilter("ignore")
CANARY = "ZQX-CANARY-7731"
N = 600


def _data(seed: int = 0) -> tuple[pd.DataFrame, TableSchema]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tier": rng.choice(["free", "pro", "enterprise"], N, p=[0.6, 0.3, 0.1]),
            "city": rng.choice(["north", "south", "east"], N),
            "spend": np.round(rng.gamma(2.0, 20.0, N), 2),
            "age": rng.integers(18, 90, N),
            "active": rng.random(N) < 0.7,
        }
    )
    frame.loc[0, "city"] = CANARY  # one person with a unique value
    frame.loc[1, "spend"] = 987654.321  # and one extreme number
    schema = TableSchema(
        "t",
        (
            ColumnSchema("tier", LogicalType.CATEGORICAL, domain=("free", "pro", "enterprise")),
            ColumnSchema("city", LogicalType.CATEGORICAL),
            ColumnSchema("spend", LogicalType.FLOAT),
            ColumnSchema("age", LogicalType.INTEGER),
            ColumnSchema("active", LogicalType.BOOLEAN, nullable=False),
        ),
    )
    return frame, schema


@pytest.fixture(scope="module")
def fitted(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DPCTGANSynthesizer, Any, Path, dict[str, Any]]:
    frame, schema = _data()
    synth = DPCTGANSynthesizer(epochs=3, batch_size=100, generator_dims=(32,), critic_dims=(32,))
    spy: dict[str, Any] = {}
    import synthgate.synth.dp_ctgan._synthesizer as module

    original = module.make_private_critic

    def recording(*args: Any, **kwargs: Any) -> Any:
        spy["private"] = original(*args, **kwargs)
        spy["kwargs"] = kwargs
        return spy["private"]

    module.make_private_critic = recording
    try:
        fit = synth.fit(frame, schema, privacy=PrivacyRequest(epsilon=2.0, delta=1e-5), seed=5)
    finally:
        module.make_private_critic = original
    folder = tmp_path_factory.mktemp("artifact")
    synth.save(folder)
    return synth, fit, folder, spy


def test_epsilon_recomputed_from_recorded_parameters_matches(fitted: Any) -> None:
    _, fit, folder, _ = fitted
    model = json.loads((folder / "model.json").read_text())
    training = model["training"]
    mechs = [GaussianMechanism(**m) for m in model["account"]["mechanisms"]]
    sgd = [m for m in mechs if m.mechanism == "dp-sgd"]
    assert len(sgd) == 1
    assert sgd[0].sigma == training["noise_multiplier"]
    assert sgd[0].sample_rate == training["sample_rate"]
    assert sgd[0].steps == training["steps"]
    recomputed = compose(mechs, delta=fit.privacy.delta)
    assert recomputed.epsilon == pytest.approx(fit.privacy.epsilon, rel=1e-9)
    assert fit.privacy.epsilon <= 2.0 * 1.001
    assert fit.privacy.delta == 1e-5
    # the RDP cross-check is recorded and is the looser bound
    assert training["rdp_epsilon"] >= fit.privacy.epsilon


def test_ledger_stages_compose_to_the_reported_total(fitted: Any) -> None:
    _, fit, _, _ = fitted
    stages = fit.privacy.stages
    assert {s.stage for s in stages} == {"preprocess", "train"}
    mechs = [GaussianMechanism(**s.details) for s in stages]
    assert compose(mechs, delta=fit.privacy.delta).epsilon == pytest.approx(fit.privacy.epsilon)
    # every stage's own ε is at most the total; their plain sum is not the total
    assert all(s.epsilon <= fit.privacy.epsilon + 1e-9 for s in stages)
    assert sum(s.epsilon for s in stages) > fit.privacy.epsilon


def test_sampling_is_poisson_with_the_recorded_rate(fitted: Any) -> None:
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler

    _, fit, _, spy = fitted
    loader = spy["private"][3]
    assert isinstance(loader.batch_sampler, UniformWithReplacementSampler)
    assert loader.sample_rate == pytest.approx(fit.params["sample_rate"])
    sizes: list[int] = []
    for _ in range(50):
        sizes.extend(len(b) for b in loader.batch_sampler)
    assert len(set(sizes)) > 3, "Poisson batches vary in size"
    assert np.mean(sizes) == pytest.approx(N * fit.params["sample_rate"], rel=0.1)


def test_canary_category_never_enters_the_domain_artifact_or_output(fitted: Any) -> None:
    synth, _, folder, _ = fitted
    assert CANARY not in synth.released_domain("city")
    for name in ARTIFACT_FILES:
        assert CANARY.encode() not in (folder / name).read_bytes()
    out = synth.sample(2000, seed=1)
    assert CANARY not in set(out["city"])
    assert out["spend"].max() < 987654  # the extreme value's row did not set the range


def test_declared_categories_are_public_and_kept() -> None:
    frame, schema = _data()
    cols = [
        c
        if c.name != "city"
        else ColumnSchema(
            "city", LogicalType.CATEGORICAL, domain=("north", "south", "east", CANARY)
        )
        for c in schema.columns
    ]
    synth = DPCTGANSynthesizer(epochs=1, batch_size=100, generator_dims=(16,), critic_dims=(16,))
    synth.fit(frame, schema.replace_columns(cols), privacy=PrivacyRequest(2.0, 1e-5), seed=0)
    assert CANARY in synth.released_domain("city")


def test_artifact_holds_only_the_generator(fitted: Any) -> None:
    synth, _, folder, _ = fitted
    assert sorted(p.name for p in folder.iterdir()) == sorted(ARTIFACT_FILES)
    state = torch.load(folder / "generator.pt", weights_only=True)
    generator_keys = set(synth._generator.state_dict())
    assert set(state) == generator_keys
    assert all(k.startswith("net.") for k in state)
    model = json.loads((folder / "model.json").read_text())
    assert set(model) == {"synthesizer", "params", "schema", "account", "training"}
    assert "critic" not in json.dumps(model).replace("critic_dims", "").replace("critic_lr", "")


def test_sampling_from_a_saved_artifact_is_reproducible(fitted: Any) -> None:
    synth, _, folder, _ = fitted
    loaded = DPCTGANSynthesizer.load(folder)
    a = loaded.sample(500, seed=11)
    b = DPCTGANSynthesizer.load(folder).sample(500, seed=11)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, synth.sample(500, seed=11))
    assert loaded.privacy_spent().epsilon == synth.privacy_spent().epsilon


def test_conditional_sampling_and_errors(fitted: Any) -> None:
    synth, _, _, _ = fitted
    out = synth.sample(50, conditions={"tier": "enterprise"}, seed=2)
    assert set(out["tier"]) == {"enterprise"}
    with pytest.raises(SynthesisError, match="not a modelled categorical column"):
        synth.sample(5, conditions={"spend": 1.0})
    with pytest.raises(SynthesisError, match="not in the column's released domain"):
        synth.sample(5, conditions={"tier": "platinum"})


def test_per_sample_clipping_bounds_each_rows_influence() -> None:
    """With no noise, one row's clipped gradient has norm ≤ C, however large its loss."""
    torch.manual_seed(0)
    critic = Critic(4, 0, (8,))
    x = torch.randn(1, 4) * 1000
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=1)
    opt = torch.optim.SGD(critic.parameters(), lr=1.0)
    before = [p.detach().clone() for p in critic.parameters()]
    model, opt_dp, criterion, _ = make_private_critic(
        critic,
        opt,
        loader,
        noise_multiplier=0.0,
        max_grad_norm=0.01,
        grad_sample_mode="ghost",
        loss=GanLoss.BCE,
        sample_rate=1.0,
        expected_batch=1,
    )
    opt_dp.zero_grad()
    loss = criterion(model(x, torch.zeros(1, 0)).squeeze(1), torch.ones(1))
    loss.backward()
    opt_dp.step()
    step = torch.sqrt(
        torch.tensor(0.0)
        + sum(
            ((p.detach() - b) ** 2).sum() for p, b in zip(critic.parameters(), before, strict=True)
        )
    )
    # expected batch size is 1 here, lr 1: the update is the clipped gradient itself
    assert float(step) <= 0.01 * 1.0001


def test_invalid_combinations_fail_before_training() -> None:
    frame, schema = _data()
    with pytest.raises(ConfigError, match="batch_size 5000 is larger than the training table"):
        DPCTGANSynthesizer(batch_size=5000).fit(
            frame, schema, privacy=PrivacyRequest(3.0, 1e-5), seed=0
        )
    with pytest.raises(ConfigError, match="too small"):
        DPCTGANSynthesizer(epochs=2000, batch_size=500).fit(
            frame, schema, privacy=PrivacyRequest(0.01, 1e-5), seed=0
        )
