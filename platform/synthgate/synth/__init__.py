"""Synthesizers: a registry over the ``synthgate.synthesizers`` entry points."""

from synthgate.synth._auto import AUTO, EngineChoice, choose_engine
from synthgate.synth._registry import available, create_synthesizer

__all__ = ["AUTO", "EngineChoice", "available", "choose_engine", "create_synthesizer"]
