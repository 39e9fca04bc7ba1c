"""Column names a file's header may lack: every column gets a unique, non-empty one."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["renamed", "unique_names"]


def unique_names(header: Sequence[str]) -> list[str]:
    """A unique, non-empty name per column, by position and deterministic.

    A non-blank name keeps itself the first time it occurs; a repeat gets the
    first free suffix (the second ``name`` becomes ``name_2``, the third
    ``name_3``); a blank name becomes ``column_<position>`` (from 1). A name the
    header itself holds is never taken by a generated one.
    """
    taken = {name for name in header if name.strip()}
    seen: set[str] = set()
    names: list[str] = []
    for position, name in enumerate(header, start=1):
        if not name.strip():
            new = _free(f"column_{position}", taken, bare=True)
        elif name in seen:
            new = _free(name, taken, bare=False)
        else:
            new = name
        seen.add(name)
        taken.add(new)
        names.append(new)
    return names


def _free(base: str, taken: set[str], *, bare: bool) -> str:
    if bare and base not in taken:
        return base
    suffix = 2
    while f"{base}_{suffix}" in taken:
        suffix += 1
    return f"{base}_{suffix}"


def renamed(header: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """The renamed columns: new name → the header's name ('' when it had none)."""
    return {new: old for old, new in zip(header, names, strict=True) if old != new}
