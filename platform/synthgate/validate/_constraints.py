"""Declared rules between columns that every synthetic row must hold.

A constraint (``start <= end``, ``age`` derived from ``dob``, ``city`` within
``state`` …) is declared, never learned from rows. Validation only needs to
know which synthetic rows break it: the structural-validity family counts them
(``structural.constraint_violations``) and a constraint with any violation is a
failed structural check. Job specs do not declare constraints yet; whoever adds
them hands objects of this shape to :class:`~synthgate.validate.ValidationInput`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = ["RowConstraint"]


class RowConstraint(Protocol):
    """One declared inter-column rule.

    ``name`` is shown in reports, so it may hold column names and the rule's
    form (``"start_date <= end_date"``), never a value read from a table.
    """

    @property
    def name(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    def violated(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """One flag per row of *frame* (model dtypes): ``True`` where the rule is broken."""
        ...
