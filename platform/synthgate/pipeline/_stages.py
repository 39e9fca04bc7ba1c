"""The stages. Each takes typed inputs, returns typed outputs and writes its
artifact into its own folder; none writes a real row to disk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthgate.config import JobSpec, OutputMode, PiiAction, RebalanceSpec, ValidationSpec
from synthgate.contracts import (
    ColumnSchema,
    FitResult,
    LogicalType,
    MetricResult,
    PrivacyRequest,
    PrivacySpent,
    Source,
    Synthesizer,
    TableSchema,
    batch_fingerprint,
)
from synthgate.errors import ConfigError, SourceError
from synthgate.pii import (
    ColumnFinding,
    CustomRecognizer,
    Generalization,
    LeakScanner,
    MaskAction,
    MaskPlan,
    Pseudonymizer,
    apply_plan,
    build_plan,
    classify_columns,
    load_key,
    masked_copy,
    refill,
    scan_text_columns,
)
from synthgate.protected import suggest_protected
from synthgate.release import GateDecision, PolicyPack, evaluate_gate
from synthgate.reporting import json_safe
from synthgate.synth.constraints import Constraint, learnable, restore
from synthgate.synth.public_ranges import public_range
from synthgate.validate import ValidationInput, ValidationOptions, validate_all

__all__ = [
    "MASKED_COPY_NOTE",
    "Extracted",
    "Masked",
    "Sampled",
    "classify",
    "copy_masked",
    "extract",
    "gate",
    "mask",
    "model_schema",
    "require_pii_key",
    "sample",
    "synthesize",
    "validate",
]


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), "utf-8")
    return path


# --------------------------------------------------------------------------- extract


@dataclass(frozen=True)
class Extracted:
    frame: pd.DataFrame
    schema: TableSchema
    snapshot_id: str


def extract(source: Source, spec: JobSpec, schema: TableSchema, folder: Path) -> Extracted:
    """Stream the table in chunks, hashing its content as it arrives."""
    digest = hashlib.sha256()
    batches = source.read(
        spec.source.table,
        chunk_rows=spec.source.chunk_rows,
        columns=spec.source.columns,
        where=spec.source.where,
        sample_rows=spec.source.sample_rows,
    )
    frame = read_hashed(batches, digest, spec.source.table, hint="check source.table")
    if spec.source.columns is not None:
        schema = schema.select(spec.source.columns)
    snapshot_id = "sha256:" + digest.hexdigest()
    write_json(folder / "schema.json", schema.to_dict())
    write_json(
        folder / "snapshot.json",
        {
            "snapshot_id": snapshot_id,
            "rows": len(frame),
            "columns": schema.column_names,
            "where": spec.source.where,
            "sample_rows": spec.source.sample_rows,
        },
    )
    return Extracted(frame, schema, snapshot_id)


def read_hashed(
    batches: Iterable[pa.RecordBatch], digest: Any, name: str, *, hint: str
) -> pd.DataFrame:
    """A table's chunks as the frame the models take, each chunk hashed into *digest*
    as it arrives; an empty table is refused (nothing to learn from)."""
    kept: list[pa.RecordBatch] = []
    for batch in batches:
        digest.update(batch_fingerprint(batch))
        kept.append(batch)
    if not kept or sum(b.num_rows for b in kept) == 0:
        raise SourceError(f"table {name!r} is empty; there is nothing to learn from", hint=hint)
    frame: pd.DataFrame = _model_types(pa.Table.from_batches(kept)).to_pandas(date_as_object=True)
    return frame


def _model_types(table: pa.Table) -> pa.Table:
    """Exact decimals as float64 and zoned timestamps as naive UTC for the models
    (the snapshot id is taken from the exact batches before this)."""
    fields = []
    for field in table.schema:
        if pa.types.is_decimal(field.type):
            fields.append(field.with_type(pa.float64()))
        elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
            fields.append(field.with_type(pa.timestamp(field.type.unit)))
        else:
            fields.append(field)
    return table.cast(pa.schema(fields))


# --------------------------------------------------------------------------- classify


def require_pii_key(spec: JobSpec, policy: PolicyPack) -> Pseudonymizer | None:
    """The pseudonymizer when the spec or the policy may pseudonymize, or the job
    makes a masked copy; else None.

    Called before any row is read: a missing or short key is a one-line
    ConfigError naming the variable or file, never the key.
    """
    if spec.mode is OutputMode.MASKED_COPY:
        # a masked copy gives key columns keyed surrogates (REKEY), so joins survive:
        # it always needs the key, whatever the plan turns out to be
        try:
            key = load_key(env=spec.pii.key_env, key_file=spec.pii.key_file)
        except ConfigError as exc:
            raise ConfigError(
                f"mode masked-copy: {exc.message}",
                hint=exc.hint or "key columns of a masked copy become keyed surrogates",
            ) from None
        return Pseudonymizer(key)
    asked = any(a is PiiAction.PSEUDONYMIZE for a in spec.pii.columns.values())
    if not (asked or policy.pii.needs_key):
        return None
    return Pseudonymizer(load_key(env=spec.pii.key_env, key_file=spec.pii.key_file))


def classify(
    data: Extracted,
    spec: JobSpec,
    folder: Path,
    *,
    seed: int,
    policy: PolicyPack | None = None,
) -> list[ColumnFinding]:
    """The PII inventory: one finding per column (entity, class, share); no value."""
    findings = classify_columns(
        data.frame,
        data.schema,
        sample_values=spec.pii.sample_values,
        seed=seed,
        recognizers=policy.pii.custom_recognizers() if policy is not None else (),
    )
    write_json(folder / "inventory.json", [f.to_dict() for f in findings])
    return findings


# --------------------------------------------------------------------------- mask


@dataclass(frozen=True)
class Masked:
    plan: MaskPlan
    train: pd.DataFrame
    holdout: pd.DataFrame
    leak: LeakScanner
    pseudonymizer: Pseudonymizer | None = None
    recognizers: tuple[CustomRecognizer, ...] = ()
    generalization: Generalization | None = None
    redact_with_surrogate: bool = False


_SPEC_ACTIONS = {
    PiiAction.DROP: MaskAction.DROP,
    PiiAction.FAKE: MaskAction.FAKE,
    PiiAction.KEEP: MaskAction.KEEP,
    PiiAction.PSEUDONYMIZE: MaskAction.PSEUDONYMIZE,
    PiiAction.GENERALIZE: MaskAction.GENERALIZE,
    PiiAction.REDACT: MaskAction.REDACT,
}


def holdout_rows(frame: pd.DataFrame, share: float, *, seed: int) -> np.ndarray[Any, Any]:
    """Which rows are held out: each by its own coin, a keyed hash of the row's values.

    A row's side depends on that row alone, so adding or removing one row leaves
    every other row where it was: the training tables of two neighbouring tables
    are neighbours, as the DP guarantee (add/remove one row) needs. A shuffled
    split of a fixed size would move other rows when one is added. The holdout's
    size is therefore about, not exactly, *share* of the rows.
    """
    if share <= 0 or frame.empty:
        return np.zeros(len(frame), dtype=bool)
    key = f"{seed & 0xFFFFFFFFFFFFFFFF:016x}"
    hashed = pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()
    return (hashed / float(2**64)) < share


def mask(
    data: Extracted,
    findings: list[ColumnFinding],
    policy: PolicyPack,
    spec: JobSpec,
    folder: Path,
    *,
    seed: int,
    pseudonymizer: Pseudonymizer | None,
) -> Masked:
    """Plan per-column actions, strip PII, split train / holdout.

    *pseudonymizer* is what :func:`require_pii_key` returned for this spec and
    policy: present whenever the plan can pseudonymize.

    The synthesizer gets only the plan's model columns, generalized and redacted
    values in place of the real ones. Real direct identifiers are kept only as
    keyed digests, for the leak scan of the output.
    """
    overrides = {col: _SPEC_ACTIONS[a] for col, a in spec.pii.columns.items()}
    plan = build_plan(
        findings,
        data.schema,
        class_actions=policy.pii.class_actions(),
        overrides=overrides,
        entity_actions=policy.pii.entity_actions(),
    )
    if plan.needs_key and pseudonymizer is None:
        raise ConfigError("the masking plan pseudonymizes, but no pseudonym key was loaded")
    recognizers = policy.pii.custom_recognizers()
    leak = LeakScanner()
    leak.add_frame(data.frame, plan.direct_identifiers)
    surrogate = (
        pseudonymizer.surrogate
        if pseudonymizer is not None and policy.pii.redacts_with_surrogate
        else None
    )
    kept = apply_plan(
        data.frame,
        plan,
        generalization=policy.pii.generalization(),
        recognizers=recognizers,
        surrogate=surrogate,
    )
    held = holdout_rows(kept, spec.validation.holdout, seed=seed)
    holdout = kept[held].reset_index(drop=True)
    train = kept[~held].reset_index(drop=True)
    write_json(folder / "plan.json", plan.to_dict())
    write_json(folder / "split.json", {"train_rows": len(train), "holdout_rows": len(holdout)})
    return Masked(
        plan,
        train,
        holdout,
        leak,
        pseudonymizer,
        recognizers,
        policy.pii.generalization(),
        redact_with_surrogate=surrogate is not None,
    )


# --------------------------------------------------------------------------- synthesize


def model_schema(data: Extracted, masked: Masked, spec: JobSpec) -> TableSchema:
    """Schema of the columns the synthesizer sees, with declared public facts, and the
    ranges everyone knows for an age or a date of birth (:mod:`synthgate.synth.public_ranges`)
    where none is declared."""
    cols: list[ColumnSchema] = []
    transformed = set(masked.plan.columns(MaskAction.GENERALIZE)) | set(
        masked.plan.columns(MaskAction.REDACT)
    )
    for name in masked.plan.model_columns:
        col = data.schema.column(name)
        if name in transformed and col.type in {LogicalType.TEXT, LogicalType.CATEGORICAL}:
            # postcode prefixes and redacted text are new labels: no declared domain applies
            # (generalized dates and ages keep their type and declared bounds)
            col = ColumnSchema(col.name, LogicalType.CATEGORICAL, col.nullable, col.native_type)
        elif name in transformed:
            col = ColumnSchema(col.name, col.type, col.nullable, col.native_type, None, col.bounds)
        elif col.type is LogicalType.TEXT:
            col = col.with_type(LogicalType.CATEGORICAL)
        hint = spec.synthesis.columns.get(name)
        if hint is not None:
            col = ColumnSchema(
                col.name,
                hint.type or col.type,
                col.nullable,
                col.native_type,
                tuple(str(c) for c in hint.categories) if hint.categories else col.domain,
                hint.bounds() or col.bounds,
            )
        known = public_range(col)
        if known is not None:
            col = ColumnSchema(col.name, col.type, col.nullable, col.native_type, col.domain, known)
        cols.append(col)
    if not cols:
        raise ConfigError(
            "after masking no column is left for the synthesizer",
            hint="every column was classified as PII; override some with pii.columns",
        )
    return data.schema.replace_columns(cols).select([c.name for c in cols])


def synthesize(
    synth: Synthesizer,
    masked: Masked,
    schema: TableSchema,
    privacy: PrivacyRequest,
    folder: Path,
    *,
    seed: int,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    constraints: Sequence[Constraint] = (),
) -> FitResult:
    train, learned = learnable(masked.train, schema, constraints)
    result = synth.fit(train, learned, privacy=privacy, seed=seed, progress=progress)
    saved = synth.save(folder / "model")
    write_json(
        folder / "fit.json",
        {
            "synthesizer": synth.name,
            "private": synth.private,
            "seconds": round(result.seconds, 3),
            "params": dict(result.params),
            "privacy": result.privacy.to_dict(),
            "model_schema": schema.to_dict(),
            "artifact": [p.name for p in saved],
        },
    )
    return result


# --------------------------------------------------------------------------- sample


@dataclass(frozen=True)
class Sampled:
    model_frame: pd.DataFrame  # the synthesizer's columns only
    release: pd.DataFrame  # the full released table, PII refilled
    pii_replay: dict[str, int]
    path: Path


def sample(
    synth: Synthesizer,
    data: Extracted,
    masked: Masked,
    rows: int,
    folder: Path,
    *,
    seed: int,
    rebalance: RebalanceSpec | None = None,
    constraints: Sequence[Constraint] = (),
    schema: TableSchema | None = None,
) -> Sampled:
    model_frame = _rebalanced(synth, rows, rebalance, seed) if rebalance else synth.sample(rows)
    if schema is not None:
        model_frame = restore(model_frame, schema, constraints)
    release = refill(
        model_frame,
        masked.plan,
        data.schema,
        seed=seed,
        avoid=masked.leak,
        pseudonymizer=masked.pseudonymizer,
        generalization=masked.generalization,
    )
    replay = _replay(release, masked, seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "synthetic.parquet"
    pq.write_table(pa.Table.from_pandas(release, preserve_index=False), path)
    write_json(folder / "sample.json", {"rows": len(release), "columns": list(release.columns)})
    return Sampled(model_frame, release, replay, path)


def _replay(release: pd.DataFrame, masked: Masked, seed: int) -> dict[str, int]:
    """Real direct identifiers found in an output, per column (counts only): the keyed
    hashes of the real values, then Presidio over the free text that reaches the
    output (redacted, then synthesized or copied) — every value in which it still
    finds an identifier counts, except the surrogates redaction itself wrote."""
    replay = masked.leak.scan(release)
    issued = masked.pseudonymizer.issued if masked.pseudonymizer is not None else frozenset()
    text_columns = masked.plan.columns(MaskAction.REDACT)
    for col, hits in scan_text_columns(
        release, text_columns, recognizers=masked.recognizers, seed=seed, issued=issued
    ).items():
        replay[f"{col} (presidio)"] = hits
    return replay


#: what every masked-copy artifact says about itself
MASKED_COPY_NOTE = (
    "MASKED COPY: the real rows with the masking plan applied; not synthetic, "
    "not differentially private"
)


def copy_masked(data: Extracted, masked: Masked, folder: Path, *, seed: int) -> Sampled:
    """The masked copy (mode masked-copy): every real row with the plan applied.

    No model is trained or sampled. ``model_frame`` is the copy's learned-kind
    columns (kept, generalized, redacted), so validation compares it with the real
    rows just as it would a synthetic sample; the leak scans run as for a sample.
    """
    if masked.pseudonymizer is None:
        raise ConfigError("mode masked-copy needs the pseudonym key; none was loaded")
    release = masked_copy(
        data.frame,
        masked.plan,
        masked.pseudonymizer,
        seed=seed,
        generalization=masked.generalization,
        recognizers=masked.recognizers,
        avoid=masked.leak,
        redact_with_surrogate=masked.redact_with_surrogate,
    ).reset_index(drop=True)
    model_frame = release[masked.plan.model_columns]
    replay = _replay(release, masked, seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "synthetic.parquet"  # the name publishing reads; the content is a copy
    table = pa.Table.from_pandas(release, preserve_index=False)
    labels = {
        b"synthgate.mode": OutputMode.MASKED_COPY.value.encode(),
        b"synthgate.note": MASKED_COPY_NOTE.encode(),
    }
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **labels}), path)
    write_json(
        folder / "sample.json",
        {
            "rows": len(release),
            "columns": list(release.columns),
            "mode": OutputMode.MASKED_COPY.value,
            "note": MASKED_COPY_NOTE,
        },
    )
    return Sampled(model_frame, release, replay, path)


def released_domain(synth: Synthesizer, column: str) -> list[Any]:
    """The categories a synthesizer can be conditioned on, or a ConfigError."""
    domain = getattr(synth, "released_domain", None)
    if domain is None:
        raise ConfigError(
            f"synthesis.rebalance needs conditional sampling, which {synth.name} does not offer",
            hint="use synthesizer dp-ctgan",
        )
    values: list[Any] = domain(column)
    return values


def _rebalanced(synth: Synthesizer, rows: int, spec: RebalanceSpec, seed: int) -> pd.DataFrame:
    """Equal rows per released category of the column, shuffled."""
    domain = released_domain(synth, spec.column)
    base, extra = divmod(rows, len(domain))
    parts = [
        synth.sample(base + (1 if i < extra else 0), conditions={spec.column: value}, seed=seed + i)
        for i, value in enumerate(domain)
        if base + (1 if i < extra else 0) > 0
    ]
    frame = pd.concat(parts, ignore_index=True)
    order = np.random.default_rng(seed).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- validate


def _release_schema(source: TableSchema, model: TableSchema, masked: Masked) -> TableSchema:
    """The released table's schema: the source's, minus dropped columns, with the
    public facts (hints) the model schema carries for the modelled columns."""
    dropped = set(masked.plan.columns(MaskAction.DROP))
    modelled = {c.name: c for c in model.columns}
    cols = [modelled.get(c.name, c) for c in source.columns if c.name not in dropped]
    return source.replace_columns(cols).select([c.name for c in cols])


def _protected(vspec: ValidationSpec | None, schema: TableSchema) -> tuple[list[str], str]:
    """The protected attributes the bias checks compare, and where they came from:
    the spec's list, else the modelled columns whose names read as one."""
    if vspec is not None and vspec.protected_attributes:
        return list(vspec.protected_attributes), "validation.protected_attributes"
    target = vspec.target_column if vspec is not None else None
    named = [c for c in suggest_protected(schema.column_names) if c != target]
    return named, "column names" if named else "none"


def validate(
    masked: Masked,
    sampled: Sampled,
    schema: TableSchema,
    privacy: PrivacySpent,
    folder: Path,
    *,
    spec: JobSpec | None = None,
    source_schema: TableSchema | None = None,
    seed: int = 0,
    constraints: Sequence[Constraint] = (),
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[MetricResult], dict[str, Any], dict[str, Any]]:
    """Every metric of the registry; returns results, the flat map, the report part.
    ``progress(done, total, metric)`` is called before each metric and once at the end.

    Writes ``metrics.json`` and Great Expectations' suite and results JSON
    (``gx_suite.json``, ``gx_results.json``); none holds a real value.
    """
    vspec = spec.validation if spec is not None else None
    rebalance = spec.synthesis.rebalance if spec is not None else None
    protected, protected_from = _protected(vspec, schema)
    outcome = validate_all(
        ValidationInput(
            train=masked.train,
            synthetic=sampled.model_frame,
            schema=schema,
            privacy=privacy,
            pii_replay=sampled.pii_replay,
            holdout=masked.holdout,
            target_column=vspec.target_column if vspec else None,
            protected_attributes=tuple(protected),
            release=sampled.release,
            release_schema=_release_schema(source_schema, schema, masked)
            if source_schema is not None
            else None,
            expectations=[e.model_dump() for e in vspec.expectations] if vspec else (),
            rebalance=rebalance.model_dump(mode="json") if rebalance is not None else None,
            options=ValidationOptions(seed=seed),
            masked_copy=spec.masked_copy if spec is not None else False,
            constraints=tuple(constraints),
        ),
        progress=progress,
    )
    outcome.report["protected_attributes"] = {"columns": protected, "from": protected_from}
    write_json(
        folder / "metrics.json",
        json_safe(
            {
                "metrics": [r.to_dict() for r in outcome.metrics],
                "flat": outcome.flat,
                "areas": outcome.report["areas"],
            }
        ),
    )
    for name, content in outcome.artifacts.items():
        write_json(folder / name, json_safe(content))
    return outcome.metrics, outcome.flat, outcome.report


# --------------------------------------------------------------------------- gate


def gate(policy: PolicyPack, flat: dict[str, Any], folder: Path) -> GateDecision:
    decision = evaluate_gate(policy, flat)
    write_json(
        folder / "outcomes.json",
        {
            "policy": policy.name,
            "status": decision.status.value,
            "outcomes": [o.to_dict() for o in decision.outcomes],
        },
    )
    return decision
