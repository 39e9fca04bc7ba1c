"""Generator (residual blocks) and critic (no BatchNorm, Opacus-compatible)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from synthgate.synth.dp_ctgan._transform import Span

__all__ = ["Critic", "Generator", "activate"]


class _Residual(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    def __init__(self, noise_dim: int, cond_dim: int, dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = noise_dim + cond_dim
        for d in dims:
            layers.append(_Residual(width, d))
            width += d
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([noise, cond], dim=1))  # type: ignore[no-any-return]


class Critic(nn.Module):
    """Plain MLP: per-sample gradients are exact and cheap; no batch statistics."""

    def __init__(self, in_dim: int, cond_dim: int, dims: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim + cond_dim
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2)]
            width = d
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, cond], dim=1))  # type: ignore[no-any-return]


def activate(raw: torch.Tensor, spans: Sequence[Span], *, tau: float, hard: bool) -> torch.Tensor:
    """Linear spans pass through; softmax spans go through Gumbel-softmax."""
    parts = []
    for span in spans:
        block = raw[:, span.start : span.start + span.width]
        if span.activation == "linear":
            parts.append(block)
        else:
            parts.append(F.gumbel_softmax(block, tau=tau, hard=hard))
    return torch.cat(parts, dim=1)
