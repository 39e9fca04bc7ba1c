"""Policy packs shipped with synthgate (YAML under ``packs/``)."""

__all__: list[str] = []
