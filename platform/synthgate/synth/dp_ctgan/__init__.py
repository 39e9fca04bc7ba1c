"""DP-CTGAN: a conditional tabular GAN trained with DP-SGD (Opacus)."""

from synthgate.synth.dp_ctgan._synthesizer import DPCTGANParams, DPCTGANSynthesizer, GanLoss

__all__ = ["DPCTGANParams", "DPCTGANSynthesizer", "GanLoss"]
