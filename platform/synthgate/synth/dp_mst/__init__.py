"""dp-mst: a marginal-based DP synthesizer (select, measure, generate) on numpy."""

from synthgate.synth.dp_mst._synthesizer import DPMSTParams, DPMSTSynthesizer

__all__ = ["DPMSTParams", "DPMSTSynthesizer"]
