"""DP-CTGAN: a conditional tabular GAN trained with DP-SGD (Opacus).

The engine (and torch with it) is imported on first use of its names, so the
shared transforms in :mod:`._transform`, which dp-mst uses, load without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DPCTGANParams", "DPCTGANSynthesizer", "GanLoss"]

if TYPE_CHECKING:
    from synthgate.synth.dp_ctgan._synthesizer import DPCTGANParams, DPCTGANSynthesizer, GanLoss


def __getattr__(name: str) -> Any:
    if name in __all__:
        from synthgate.synth.dp_ctgan import _synthesizer

        return getattr(_synthesizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
