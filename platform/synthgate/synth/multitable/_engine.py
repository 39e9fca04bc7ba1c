"""Multi-table DP synthesis: a unit table and its descendants, keys intact.

Privacy unit: one row of the unit table together with every row that belongs
to it through foreign keys. Each parent keeps at most ``cap`` children per
relationship, so a person owns at most ``k`` rows of a table (the product of the
caps above it); every mechanism run on that table is calibrated to L2
sensitivity ``k`` (its noise is ``k`` times what one row would need) and enters
the ledger with its per-person noise multiplier. One accountant composes every
mechanism of every table into the ε of the person.

Design: the unit table is fitted by dp-mst with one extra integer column per
child relationship (the clipped number of children); each child table is fitted
by dp-mst on its rows with a context column (a few parent attributes, coarsened)
as the model's root, and sampled given each synthetic parent's context, exactly
as many rows as the synthetic parent's child count. Keys are regenerated.
A link (a foreign key to a private table other than the parent: a
self-reference, a second private parent) enters its table's model as one
categorical column, its kind: not set, the same person's row, another person's
row; its target is drawn among the released rows of that kind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import ndtri

from synthgate import memory
from synthgate.contracts import (
    ColumnSchema,
    LogicalType,
    PrivacyRequest,
    Relationship,
    TableSchema,
)
from synthgate.errors import ConfigError, SynthesisError
from synthgate.privacy import (
    AUTO_DELTA_MAX,
    GaussianMechanism,
    RowCount,
    compose,
    count_rho,
    count_rows,
    gaussian_sigma_for_rho,
    rdp_rho_for_epsilon,
)
from synthgate.synth.dp_mst import _synthesizer as dp_mst
from synthgate.synth.multitable._caps import MAX_CAP, CapChoice, choose_cap, clip_children
from synthgate.synth.multitable._checks import quality, run_checks
from synthgate.synth.multitable._context import MAX_DECLARED, ContextScheme, context_scheme
from synthgate.synth.multitable._graph import TablePlan, plan_tables
from synthgate.synth.multitable._keys import assign_keys, link_column
from synthgate.synth.multitable._links import (
    KIND_DOMAIN,
    fill_links,
    is_kind_column,
    link_kinds,
    require_unique_key,
)

__all__ = ["MultiTableSynthesis", "check_context", "synthesize_related"]

CAP_SHARE = 0.05  # of the person's zCDP budget, per relationship whose cap is chosen under DP
SELECTION_SHARE = 0.1  # of a table's budget: DP partition selection of its categorical columns
MAX_CATEGORIES = 200
MIN_ROW_RHO = 1e-7  # below this a table's noise drowns any count
COUNT = "__children__:"
CONTEXT = "__parent__"
UNIT = "__unit__"
PARENT = "__parent_row__"


@dataclass(frozen=True)
class MultiTableSynthesis:
    """Synthetic related tables and the evidence behind them.

    ``tables`` holds every input table with its columns (public ones as given);
    ``ledger`` is the composed guarantee for the person (one unit row and all its
    rows below), each table's share, each relationship's cap and every mechanism;
    ``checks`` are referential integrity, key uniqueness and children-per-parent
    distances."""

    tables: dict[str, pd.DataFrame]
    epsilon: float
    delta: float
    ledger: dict[str, Any]
    checks: dict[str, Any]


@dataclass
class _Budget:
    """zCDP shares, fixed from public facts (table and column names, declared caps)."""

    delta: float
    accountant_delta: float
    selection_delta: float
    cap_sigma: float
    unit_rows: int
    table_rho: dict[str, float]
    unit_scale: float = 1.0  # synthetic unit rows per DP-counted training unit row


@dataclass
class _Table:
    plan: TablePlan
    rows_per_person: int
    real: pd.DataFrame  # kept real rows, with UNIT and PARENT
    synthetic: pd.DataFrame = field(default_factory=pd.DataFrame)
    parent_index: np.ndarray[Any, Any] | None = None
    mechanisms: list[GaussianMechanism] = field(default_factory=list)
    public_values: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    empty_columns: list[str] = field(default_factory=list)
    cap: int = 1  # children one parent row keeps (a child table)
    seconds: dict[str, float] = field(default_factory=dict)
    #: each count the table's mechanisms measured and its noise (standard deviation in
    #: rows, or people for partition selection): what validation reads as resolution
    noise: list[dict[str, Any]] = field(default_factory=list)


def synthesize_related(
    tables: Mapping[str, pd.DataFrame],
    *,
    unit: str,
    relationships: Sequence[Relationship],
    epsilon: float,
    public: Sequence[str] = (),
    keys: Mapping[str, Sequence[str]] | None = None,
    caps: Mapping[str, int] | None = None,
    seed: int | None = None,
    with_quality: bool = True,
    unit_rows_scale: float = 1.0,
    context: Mapping[str, Sequence[str]] | None = None,
) -> MultiTableSynthesis:
    """Synthesize *unit* and its descendant tables under (ε, δ)-DP per person.

    *with_quality* adds SDMetrics' multi-table quality report to the checks. The unit
    table gets its DP row count times *unit_rows_scale* synthetic rows (a job passes
    1 / (1 − its holdout share), so a release is about as large as the whole table);
    the child tables follow from the synthetic child counts. *context* names, per
    child table, the parent columns it is modelled and sampled with (default: the
    parent's categorical column with the fewest values)."""
    if not 0 < unit_rows_scale <= 100:
        raise ConfigError(
            f"unit_rows_scale must be in (0, 100], got {unit_rows_scale}",
            hint="1.0 releases as many unit rows as the DP count of the input's",
        )
    if not epsilon > 0:
        raise ConfigError(f"epsilon must be > 0, got {epsilon}", hint="pass epsilon=3 or so")
    caps = dict(caps or {})
    plans = plan_tables(
        tables, unit=unit, relationships=relationships, public=public, keys=dict(keys or {})
    )
    _check_caps(caps, plans)
    context = dict(check_context(dict(context or {}), plans, tables))
    rng = dp_mst.noise_generator()
    sample_seed = seed if seed is not None else secrets.randbits(31)
    count = count_rows(len(tables[unit]), PrivacyRequest(epsilon, AUTO_DELTA_MAX, True), rng)
    state = _prepare(tables, plans)
    link_kinds(state, UNIT)
    budget = replace(_plan_budget(epsilon, count, state, caps), unit_scale=unit_rows_scale)
    mechanisms: list[GaussianMechanism] = [count.mechanism]
    cap_records = _apply_caps(state, caps, budget, rng, mechanisms)
    for index, plan in enumerate(plans):
        declared = context.get(plan.name, ())
        _synthesize_table(state, plan.name, tables, budget, rng, sample_seed + index, declared)
    account = compose(
        [*mechanisms, *(m for t in state.values() for m in t.mechanisms)], delta=budget.delta
    )
    if account.epsilon > epsilon * 1.001:
        raise SynthesisError(
            f"composed epsilon {account.epsilon:.4f} exceeds the requested {epsilon}"
        )
    keys_rng = np.random.default_rng(sample_seed)
    out = fill_links(state, assign_keys(state, tables, public, keys_rng), keys_rng)
    checks = run_checks(out, tables, plans, caps_of(cap_records), public)
    checks["seconds"] = {name: dict(t.seconds) for name, t in state.items()}
    checks["quality"] = quality(out, tables, plans, public) if with_quality else None
    ledger = _ledger(unit, account, state, cap_records, budget)
    return MultiTableSynthesis(out, account.epsilon, account.delta, ledger, checks)


def _scaled(rows: int, budget: _Budget) -> int:
    return max(1, round(rows * budget.unit_scale))


def caps_of(records: Mapping[str, CapChoice]) -> dict[str, int]:
    return {t: r.cap for t, r in records.items()}


def check_context(
    context: Mapping[str, Sequence[str]],
    plans: list[TablePlan],
    tables: Mapping[str, pd.DataFrame],
) -> Mapping[str, Sequence[str]]:
    """Each named child table's parent columns: existing, modelled (no key), at most
    MAX_DECLARED; one ConfigError listing every problem."""
    by_name = {p.name: p for p in plans}
    problems = []
    for table, columns in context.items():
        plan = by_name.get(table)
        if plan is None or plan.parent is None:
            problems.append(
                f"context is given for {table!r}, which is not a child of a private table"
            )
            continue
        parent = by_name[plan.parent.parent_table]
        if not columns or len(columns) > MAX_DECLARED:
            problems.append(f"the context of {table!r} names 1 to {MAX_DECLARED} parent columns")
        problems += [
            f"the context of {table!r} names {c!r}, which is not a column of {parent.name!r}"
            if c not in tables[parent.name].columns
            else f"the context of {table!r} names {c!r}, a key of {parent.name!r}: name "
            "a column it learns"
            for c in columns
            if c not in tables[parent.name].columns or c in parent.key_columns
        ]
    if problems:
        raise ConfigError(
            f"cannot synthesize these tables: {'; '.join(problems)}", problems=problems
        )
    return context


def _check_caps(caps: Mapping[str, int], plans: list[TablePlan]) -> None:
    children = {p.name for p in plans if p.parent is not None}
    for table, cap in caps.items():
        if table not in children:
            raise ConfigError(
                f"a cap is given for {table!r}, which is not a child of a private table",
                hint=f"give caps for the child tables: {', '.join(sorted(children)) or 'none'}",
            )
        if not (isinstance(cap, int) and 1 <= cap <= MAX_CAP):
            raise ConfigError(
                f"the cap of {table!r} must be an integer from 1 to {MAX_CAP}",
                hint="caps bound the children one parent row keeps",
            )


# ---------------------------------------------------------------------- real rows


def _prepare(tables: Mapping[str, pd.DataFrame], plans: list[TablePlan]) -> dict[str, _Table]:
    """Each private table's real rows, joined to their parent row and person."""
    first = plans[0]
    real = tables[first.name].reset_index(drop=True).copy()
    real[UNIT] = np.arange(len(real))
    state = {first.name: _Table(first, 1, real)}
    for plan in plans[1:]:
        assert plan.parent is not None
        parent = state[plan.parent.parent_table]
        child = _join_parent(tables[plan.name], parent.real, plan.parent)
        state[plan.name] = _Table(plan, 0, child)
    return state


def _join_parent(child: pd.DataFrame, parent: pd.DataFrame, rel: Relationship) -> pd.DataFrame:
    """Child rows with the position of their parent row and its person; rows whose
    foreign key is null or points at no parent belong to nobody and are left out."""
    require_unique_key(parent, rel)
    left = child.reset_index(drop=True)
    right = parent[[*list(rel.parent_columns), UNIT]].copy()
    right[PARENT] = np.arange(len(right))
    right.columns = [*rel.child_columns, UNIT, PARENT]
    return left.merge(right, how="inner", on=list(rel.child_columns), sort=False)


def _plan_budget(
    epsilon: float, count: RowCount, state: Mapping[str, _Table], caps: Mapping[str, int]
) -> _Budget:
    delta = float(count.privacy.delta)
    selections = sum(len(_selection_columns(t)) for t in state.values())
    acc_delta = delta / 2 if selections else delta
    rho = rdp_rho_for_epsilon(epsilon, acc_delta) - count_rho(count.mechanism)
    free_caps = [t for t in state.values() if t.plan.parent is not None and t.plan.name not in caps]
    cap_rho = CAP_SHARE * rho
    rest = rho - cap_rho * len(free_caps)
    weights = {name: 1.0 + 0.5 * _depth(state, name) for name in state}
    total = sum(weights.values())
    return _Budget(
        delta=delta,
        accountant_delta=acc_delta,
        selection_delta=delta / 2 / selections if selections else 0.0,
        cap_sigma=gaussian_sigma_for_rho(cap_rho),
        unit_rows=int(count.rows),
        table_rho={name: rest * w / total for name, w in weights.items()},
    )


def _depth(state: Mapping[str, _Table], name: str) -> int:
    plan = state[name].plan
    return 0 if plan.parent is None else 1 + _depth(state, plan.parent.parent_table)


def _apply_caps(
    state: dict[str, _Table],
    caps: Mapping[str, int],
    budget: _Budget,
    rng: np.random.Generator,
    mechanisms: list[GaussianMechanism],
) -> dict[str, CapChoice]:
    """Top down: each relationship's cap (declared or DP), then its clipping; the
    parent gets the clipped child count as a column."""
    records: dict[str, CapChoice] = {}
    for name, table in state.items():
        if table.plan.parent is None:
            continue
        parent = state[table.plan.parent.parent_table]
        table.real = _reindex_parent(table.real, parent.real, table.plan.parent)
        counts = np.bincount(table.real[PARENT].to_numpy(), minlength=len(parent.real))
        if name in caps:
            choice = CapChoice(caps[name], True, None, None)
        else:
            choice = choose_cap(
                counts, name=name, sigma=budget.cap_sigma, k=parent.rows_per_person, rng=rng
            )
            assert choice.mechanism is not None
            mechanisms.append(choice.mechanism)
        order = rng.permutation(len(table.real))
        keep = clip_children(table.real[PARENT].to_numpy(), choice.cap, order)
        table.real = table.real[keep].reset_index(drop=True)
        table.rows_per_person = parent.rows_per_person * choice.cap
        table.cap = choice.cap
        parent.real[COUNT + name] = np.minimum(counts, choice.cap)
        records[name] = choice
    return records


def _reindex_parent(child: pd.DataFrame, parent: pd.DataFrame, rel: Relationship) -> pd.DataFrame:
    """Re-point PARENT at the parent's kept rows (its real frame was clipped)."""
    out = child.drop(columns=[PARENT, UNIT])
    return _join_parent(out, parent, rel)


# ---------------------------------------------------------------------- one table


def _selection_columns(table: _Table) -> list[str]:
    keys = table.plan.key_columns
    return [
        c
        for c in table.real.columns
        if c not in keys
        and c not in (UNIT, PARENT)
        and not c.startswith(COUNT)
        and not is_kind_column(c)
        and not pd.api.types.is_numeric_dtype(table.real[c])
        and not pd.api.types.is_bool_dtype(table.real[c])
        and not _is_temporal(table.real[c])
    ]


def _is_temporal(series: pd.Series[Any]) -> bool:
    """Datetimes, and dates held as Python objects (as sources read them): modelled
    with DP bounds as numbers are, never as categories."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    kind = pd.api.types.infer_dtype(series, skipna=True)
    return kind in ("date", "datetime", "datetime64")


def _synthesize_table(
    state: dict[str, _Table],
    name: str,
    tables: Mapping[str, pd.DataFrame],
    budget: _Budget,
    rng: np.random.Generator,
    seed: int,
    declared: Sequence[str] = (),
) -> None:
    table = state[name]
    k = table.rows_per_person
    rho = budget.table_rho[name]
    selected = _selection_columns(table)
    sel_rho = SELECTION_SHARE * rho / len(selected) if selected else 0.0
    domains = {
        c: _select_categories(table, c, sel_rho, budget.selection_delta, rng) for c in selected
    }
    if selected:
        table.mechanisms += [
            GaussianMechanism(
                "preprocess",
                f"{name}/partition-selection:{c}",
                gaussian_sigma_for_rho(sel_rho),
                extra_delta=budget.selection_delta,
            )
            for c in selected
        ]
        people_sigma = gaussian_sigma_for_rho(sel_rho) * float(np.sqrt(k))
        table.noise += [
            {"stage": "preprocess", "mechanism": f"partition-selection:{c}", "sigma": people_sigma}
            for c in selected
        ]
        rho -= sel_rho * len(selected)
    scheme = _scheme(state, table, declared)
    frame, schema = _model_frame(table, tables, domains, scheme, state)
    n, given = _sample_size(state, table, scheme)
    if not schema.columns:
        rows = _scaled(budget.unit_rows, budget) if table.plan.parent is None else n
        table.synthetic = pd.DataFrame(index=range(rows))
        return
    synth = dp_mst.DPMSTSynthesizer(
        target=CONTEXT if scheme is not None else None, max_categories=MAX_CATEGORIES
    )
    if rho / k**2 < MIN_ROW_RHO:
        raise ConfigError(
            f"table {name!r}: {k} rows per person (the product of the caps above it) is "
            "too many for the table's share of the budget",
            hint="declare smaller caps (caps={...}), raise epsilon, or make the table public",
        )
    request = PrivacyRequest(_epsilon_for(rho / k**2, budget), budget.accountant_delta)
    start = time.perf_counter()
    synth.fit(frame, schema, privacy=request, seed=seed)
    table.seconds["fit"] = time.perf_counter() - start
    spent = synth.privacy_spent()
    table.noise += [
        {"stage": s.stage, "mechanism": s.mechanism, "sigma": float(s.details["sigma"])}
        for s in spent.stages
        if "sigma" in s.details
    ]
    for stage in spent.stages:
        mech = GaussianMechanism(**dict(stage.details))
        table.mechanisms.append(
            replace(mech, mechanism=f"{name}/{mech.mechanism}", sigma=mech.sigma / k)
        )
    if table.plan.parent is None:
        n = _scaled(synth.released_rows(), budget)
    start = time.perf_counter()
    _sample(table, synth, n, given, schema, seed)
    table.seconds["sample"] = time.perf_counter() - start


def _sample(
    table: _Table,
    synth: dp_mst.DPMSTSynthesizer,
    n: int,
    given: list[Any] | None,
    schema: TableSchema,
    seed: int,
) -> None:
    if n == 0:
        table.synthetic = pd.DataFrame({c.name: [] for c in schema.columns})
    elif given is not None:
        table.synthetic = synth.sample_given(CONTEXT, given, seed=seed)
    else:
        table.synthetic = synth.sample(n, seed=seed)


def _epsilon_for(rho: float, budget: _Budget) -> float:
    """The ε whose zCDP ρ (at the accountant's δ) is *rho*: what dp-mst is asked for."""
    mech = GaussianMechanism("plan", "plan", gaussian_sigma_for_rho(rho))
    return compose([mech], delta=budget.accountant_delta).rdp_epsilon


def _select_categories(
    table: _Table, column: str, rho: float, delta: float, rng: np.random.Generator
) -> tuple[str, ...]:
    """DP partition selection per person: a value's count is the number of people
    with a row holding it (a person adds 1 to at most k values: L2 sensitivity √k);
    a value only one person has passes the threshold with probability δ/k each."""
    k = table.rows_per_person
    sigma = gaussian_sigma_for_rho(rho) * float(np.sqrt(k))
    values = table.real[[column, UNIT]].dropna()
    people = values.astype({column: str}).groupby(column)[UNIT].nunique()
    noisy = people.to_numpy(dtype=np.float64) + rng.normal(0.0, sigma, size=len(people))
    threshold = 1.0 + sigma * float(ndtri(1.0 - delta / k))
    keep = noisy > threshold
    order = np.argsort(-noisy[keep], kind="stable")[:MAX_CATEGORIES]
    return tuple(str(v) for v in people.index.to_numpy()[keep][order])


def _scheme(
    state: Mapping[str, _Table], table: _Table, declared: Sequence[str] = ()
) -> ContextScheme | None:
    if table.plan.parent is None:
        return None
    parent = state[table.plan.parent.parent_table]
    # a named column no value of which passed DP partition selection is not released
    declared = [c for c in declared if c in parent.synthetic.columns]
    candidates = [
        c
        for c in parent.synthetic.columns
        if c != CONTEXT
        and not c.startswith(COUNT)
        and not is_kind_column(c)
        and c not in parent.public_values
    ]
    scheme = context_scheme(parent.synthetic, candidates, declared)
    return scheme if scheme.parts else None


def _sample_size(
    state: Mapping[str, _Table], table: _Table, scheme: ContextScheme | None
) -> tuple[int, list[Any] | None]:
    """A child's synthetic row count (the sum of its synthetic parents' counts), the
    parent of each row, and each row's context."""
    if table.plan.parent is None:
        return 0, None
    parent = state[table.plan.parent.parent_table]
    counts = parent.synthetic[COUNT + table.plan.name].fillna(0).astype(int).to_numpy()
    table.parent_index = np.repeat(np.arange(len(counts)), np.maximum(counts, 0))
    if scheme is None:
        return len(table.parent_index), None
    codes = scheme.code(parent.synthetic)
    return len(table.parent_index), list(codes[table.parent_index])


def _model_frame(
    table: _Table,
    tables: Mapping[str, pd.DataFrame],
    domains: Mapping[str, tuple[str, ...]],
    scheme: ContextScheme | None,
    state: Mapping[str, _Table],
) -> tuple[pd.DataFrame, TableSchema]:
    """The columns dp-mst models: attributes, links into public tables (as the row of
    the public table), child counts and the parent context; and their public facts."""
    plan = table.plan
    real = table.real
    attrs = [
        c
        for c in real.columns
        if c not in plan.key_columns
        and c not in (UNIT, PARENT)
        and not c.startswith(COUNT)
        and not is_kind_column(c)
        and (c not in domains or domains[c])
    ]
    table.empty_columns = [c for c, d in domains.items() if not d]
    frame = real[attrs].copy()
    for c in domains:
        if c in frame.columns:
            frame[c] = _as_text(frame[c])
    declared: dict[str, ColumnSchema] = {}
    for rel in plan.public_links:
        col, values = _public_link(real, tables[rel.parent_table], rel)
        table.public_values[col] = values
        frame[col] = col_values = _link_codes(real, rel, values)
        declared[col] = ColumnSchema(
            col,
            LogicalType.CATEGORICAL,
            bool(pd.isna(col_values).any()),
            "link",
            domain=tuple(str(i) for i in range(len(values))),
        )
    for col in (c for c in real.columns if is_kind_column(c)):
        frame[col] = real[col]
        declared[col] = ColumnSchema(
            col, LogicalType.CATEGORICAL, False, "link", domain=KIND_DOMAIN
        )
    for rel in plan.children:
        col = COUNT + rel.child_table
        frame[col] = real[col].astype(np.int64)
        bounds = (0.0, float(state[rel.child_table].cap))
        declared[col] = ColumnSchema(col, LogicalType.INTEGER, False, "count", bounds=bounds)
    if scheme is not None:
        parent = state[plan.parent.parent_table] if plan.parent else None
        assert parent is not None
        codes = scheme.code(parent.real)
        frame[CONTEXT] = codes[real[PARENT].to_numpy()]
        declared[CONTEXT] = ColumnSchema(
            CONTEXT, LogicalType.CATEGORICAL, False, "context", domain=scheme.domain()
        )
    base = memory.schema_of(plan.name, pa.Table.from_pandas(frame, preserve_index=False))
    columns = [_public_facts(c, declared, domains) for c in base.columns]
    return frame, base.replace_columns(columns)


def _public_facts(
    col: ColumnSchema,
    declared: Mapping[str, ColumnSchema],
    domains: Mapping[str, tuple[str, ...]],
) -> ColumnSchema:
    if col.name in declared:
        return declared[col.name]
    if col.name in domains:
        return replace(col, type=LogicalType.CATEGORICAL, domain=domains[col.name])
    return col


def _as_text(series: pd.Series[Any]) -> pd.Series[Any]:
    values = [None if pd.isna(v) else str(v) for v in series.tolist()]
    return pd.Series(values, index=series.index, dtype=object)


def _public_link(
    real: pd.DataFrame, public: pd.DataFrame, rel: Relationship
) -> tuple[str, list[tuple[Any, ...]]]:
    """The released key values of a public table, in its row order (public data)."""
    keys = public[list(rel.parent_columns)].dropna().drop_duplicates()
    values = [tuple(row) for row in keys.itertuples(index=False, name=None)]
    return link_column(rel.parent_table, rel.child_columns), values


def _link_codes(
    real: pd.DataFrame, rel: Relationship, values: list[tuple[Any, ...]]
) -> pd.Series[Any]:
    lookup = {v: str(i) for i, v in enumerate(values)}
    tuples = real[list(rel.child_columns)].itertuples(index=False, name=None)
    return pd.Series([lookup.get(tuple(t)) for t in tuples], index=real.index, dtype=object)


# ---------------------------------------------------------------------- ledger


def _ledger(
    unit: str,
    account: Any,
    state: Mapping[str, _Table],
    caps: Mapping[str, CapChoice],
    budget: _Budget,
) -> dict[str, Any]:
    per_table = {}
    for name, table in state.items():
        share = compose(table.mechanisms, delta=budget.delta).epsilon if table.mechanisms else 0.0
        per_table[name] = {
            "epsilon_alone": round(share, 4),
            "rows_per_person": table.rows_per_person,
            "mechanisms": len(table.mechanisms),
            "noise": table.noise,
        }
    return {
        "unit": unit,
        "adjacency": "add/remove one unit row with every row below it",
        "epsilon": account.epsilon,
        "delta": account.delta,
        "accountant": account.accountant,
        "tables": per_table,
        "caps": {
            name: {
                "cap": c.cap,
                "declared": c.declared,
                "clipped_rows_estimate": c.clipped_estimate,
            }
            for name, c in caps.items()
        },
        "links": {
            f"{rel.child_table}.{','.join(rel.child_columns)}": {
                "references": rel.parent_table,
                "learned": "kind only: not set, same person, another person",
            }
            for table in state.values()
            for rel in table.plan.links
        },
        "mechanisms": [m.to_dict() for m in account.mechanisms],
    }
