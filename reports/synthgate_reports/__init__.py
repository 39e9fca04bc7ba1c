"""Report sections rendered into the run's HTML report."""

__all__: list[str] = []
