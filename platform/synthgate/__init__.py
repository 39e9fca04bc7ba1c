"""synthgate: privacy-preserving synthetic data releases.

The public surface of the core package is small on purpose: plugins import
:mod:`synthgate.contracts` and :mod:`synthgate.errors`; everything else is
reached through the command line (``synthgate --help``) or the pipeline API in
:mod:`synthgate.pipeline`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
