"""A uniform random sample of N rows from a stream of batches, in one pass.

Every row gets an independent uniform key; the N rows with the smallest keys
are a uniform sample without replacement. Only N rows (plus one batch) are
held at any time; the sample keeps the rows' original order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["sample_batches"]


def sample_batches(
    batches: Iterator[pa.RecordBatch],
    n: int,
    *,
    chunk_rows: int,
    rng: np.random.Generator | None = None,
) -> Iterator[pa.RecordBatch]:
    gen = rng if rng is not None else np.random.default_rng()
    kept: pa.Table | None = None
    keys: np.ndarray[Any, np.dtype[np.float64]] = np.empty(0)
    order: np.ndarray[Any, np.dtype[np.int64]] = np.empty(0, dtype=np.int64)
    seen = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        table = pa.Table.from_batches([batch])
        new_keys = gen.random(batch.num_rows)
        new_order = np.arange(seen, seen + batch.num_rows, dtype=np.int64)
        seen += batch.num_rows
        kept = table if kept is None else pa.concat_tables([kept, table])
        keys = np.concatenate([keys, new_keys])
        order = np.concatenate([order, new_order])
        if kept.num_rows > n:
            pick = np.argpartition(keys, n - 1)[:n]
            kept, keys, order = kept.take(pick), keys[pick], order[pick]
    if kept is None:
        return
    final = kept.take(np.argsort(order, kind="stable")).combine_chunks()
    yield from final.to_batches(max_chunksize=chunk_rows)
