"""Connectors: one folder per system, drivers imported lazily.

Each connector is registered under the ``synthgate.connectors`` entry-point
group and implements :class:`synthgate.contracts.Connector`.
"""

__all__: list[str] = []
