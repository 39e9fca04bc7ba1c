"""Synthesizers: a registry over the ``synthgate.synthesizers`` entry points."""

from synthgate.synth._registry import available, create_synthesizer

__all__ = ["available", "create_synthesizer"]
