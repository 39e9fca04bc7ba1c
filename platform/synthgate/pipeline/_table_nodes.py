"""A one-table run as a graph: the one-table case of a multi-table run's nodes.

    extract → classify → mask → synthesize → sample → validate → gate → report

Each node reads and makes named artifacts and is recorded as the stage of its
name, as before. ``extract`` decides what the run does once the snapshot is
known (train, re-sample a saved model, resume, or stop: nothing changed);
``synthesize`` is skipped for a masked copy and followed by the budget's
charge; the release is made once the graph has run. A one-table run resumes
with its saved model (see :mod:`synthgate.pipeline._resume`), so its nodes
have no ``load``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgate.contracts import FitResult, PrivacyRequest
from synthgate.pipeline import _runner as rn
from synthgate.pipeline import _stages as st
from synthgate.pipeline._graph import Artifacts, Graph, Node, StopGraph
from synthgate.pipeline._resume import budget_charged, release_of
from synthgate.release import record_policy
from synthgate.release._card import build_card, write_card
from synthgate.reporting import write_report
from synthgate.synth.constraints import build_constraints

if TYPE_CHECKING:
    from synthgate.pipeline._runner import _Job, _Prior

__all__ = ["Skipped", "one_table_graph"]


class Skipped(StopGraph):
    """The snapshot, spec, model and pack are those of the job's last success."""


def one_table_graph(job: _Job, prior: _Prior, force: bool) -> Graph:
    """The nodes of one table's run over *job*, as a one-table graph."""
    return Graph(
        [
            Node("extract", "extract", "extract", partial(_extract, job, prior, force),
                 outputs=("data", "mode", "seed", "model_from"),
                 then=partial(_reserve_if_training, job, prior)),
            Node("classify", "classify", "classify", partial(_classify, job),
                 ("data", "seed"), ("findings",)),
            Node("mask", "mask", "mask", partial(_mask, job),
                 ("data", "findings", "seed"), ("masked", "schema", "constraints")),
            Node("synthesize", "synthesize", "synthesize", partial(_synthesize, job),
                 ("masked", "schema", "constraints", "mode", "seed", "model_from"),
                 ("synth", "fit"), skip=partial(_no_model, job), then=partial(_charge, job)),
            Node("sample", "sample", "sample", partial(_sample, job),
                 ("data", "masked", "schema", "constraints", "seed", "fit"), ("sampled",)),
            Node("validate", "validate", "validate", partial(_validate, job),
                 ("data", "masked", "sampled", "schema", "constraints", "seed", "fit"),
                 ("metrics", "flat", "validation")),
            Node("gate", "gate", "gate", partial(_gate, job), ("flat",), ("decision",)),
            Node("report", "report", "report", partial(_report, job),
                 ("data", "findings", "masked", "sampled", "metrics", "validation",
                  "decision", "mode", "seed", "model_from"),
                 ("report_json", "report_html", "release")),
        ]
    )  # fmt: skip


def _extract(job: _Job, prior: _Prior, force: bool, art: Artifacts, folder: Path) -> dict[str, Any]:
    """Read the table; decide what the run does once its snapshot is known."""
    summary: dict[str, Any] = {"model_hash": job.mhash, "policy_hash": job.pre.policy.content_hash}
    data = st.extract(job.pre.source, job.spec, job.pre.schema, folder)
    job.snapshot_id = data.snapshot_id
    mode, seed, model_from = rn._decide(
        job.loaded,
        prior.history,
        data.snapshot_id,
        prior.resume_model,
        prior.prior_model,
        force=force,
        model=job.mhash,
        policy=job.pre.policy.content_hash,
    )
    if job.copy and mode is rn.RunMode.TRAIN:
        mode = rn.RunMode.MASKED_COPY
    summary.update(snapshot_id=data.snapshot_id, rows=len(data.frame), seed=seed, mode=mode.value)
    for name, value in (("data", data), ("mode", mode), ("seed", seed), ("model_from", model_from)):
        art.put(name, value)
    if mode is rn.RunMode.SKIP:
        raise Skipped("nothing changed", summary)
    return summary


def _reserve_if_training(job: _Job, prior: _Prior, art: Artifacts) -> None:
    """A run that will fit and whose budget was not checked before reading reserves it
    now (exit 5 when the source cannot cover it)."""
    if (
        job.private
        and art["model_from"] is None
        and not prior.budget_checked
        and not (art["mode"] is rn.RunMode.RESUME and budget_charged(job.store, job.the_run.id))
    ):
        rn._reserve_for(job)


def _classify(job: _Job, art: Artifacts, folder: Path) -> None:
    found = st.classify(art["data"], job.spec, folder, seed=art["seed"], policy=job.pre.pii_policy)
    art.put("findings", found)
    job.audit.append(
        actor=job.user,
        action="pii.classified",
        subject=job.the_run.id,
        details={"columns": {f.column: f.entity for f in found if f.entity}},
    )


def _mask(job: _Job, art: Artifacts, folder: Path) -> None:
    """The masking plan applied; the model's schema and constraints follow from it."""
    data = art["data"]
    masked = st.mask(
        data,
        art["findings"],
        job.pre.pii_policy,
        job.spec,
        folder,
        seed=art["seed"],
        pseudonymizer=job.pre.pseudonymizer,
    )
    schema = st.model_schema(data, masked, job.spec)
    art.put("masked", masked)
    art.put("schema", schema)
    art.put("constraints", build_constraints(job.spec.synthesis.constraints, schema))
    privacy = job.spec.synthesis.privacy
    job.privacy = PrivacyRequest(
        epsilon=privacy.epsilon, delta=privacy.delta_bound(), delta_auto=privacy.delta_auto
    )


def _no_model(job: _Job, art: Artifacts) -> Mapping[str, Any] | None:
    """A masked copy trains no model."""
    if not job.copy:
        return None
    return {"mode": "masked-copy", "saved": False, "model_hash": job.mhash, "why": "no model"}


def _synthesize(job: _Job, art: Artifacts, folder: Path) -> dict[str, Any]:
    """Train, or load the model the run re-uses."""
    summary: dict[str, Any] = {"synthesizer": job.pre.synthesizer.name, "model_hash": job.mhash}
    model_from = art["model_from"]
    if model_from is not None and job.loader is not None:
        synth, fit = rn._load_model(job.loader, model_from, folder, art["seed"])
        summary.update(saved=True, reused_from=model_from.run_id)
    else:
        assert job.privacy is not None
        synth = job.pre.synthesizer
        job.fit_began = True
        fit = st.synthesize(
            synth,
            art["masked"],
            art["schema"],
            job.privacy,
            folder,
            seed=art["seed"],
            progress=job.the_run.progress.training_step,
            constraints=art["constraints"],
        )
        model_dir = folder / "model"
        summary["saved"] = model_dir.is_dir() and any(model_dir.iterdir())
    art.put("synth", synth)
    art.put("fit", fit)
    return summary


def _charge(job: _Job, art: Artifacts) -> None:
    """The budget: charged once for a fit, not at all for a masked copy."""
    pre, run = job.pre, job.the_run
    spent: float | None
    if job.copy:
        budget, spent = rn._not_charged(
            job.ledger, job.audit, job.user, pre.source_key, run.id, job.limits.epsilon
        )
        art.put("fit", FitResult(0.0, {}, rn._NOT_PRIVATE))
    else:
        model_from = art["model_from"]
        budget, spent = rn._charge(
            job.ledger,
            job.audit,
            job.user,
            pre.source_key,
            run.id,
            art["fit"],
            job.limits.epsilon,
            mode=art["mode"],
            model_run=model_from.run_id if model_from is not None else None,
        )
    art.put("budget", budget)
    art.put("epsilon_spent", spent)


def _sample(job: _Job, art: Artifacts, folder: Path) -> dict[str, Any]:
    data, spec = art["data"], job.spec
    if job.copy:
        art.put("sampled", st.copy_masked(data, art["masked"], folder, seed=art["seed"]))
        art.put("rows_estimate", None)
        return {"rows": len(data.frame), "mode": "masked-copy"}
    synth = art["synth"]
    rows = spec.synthesis.rows or rn._default_rows(synth, len(data.frame), spec.validation.holdout)
    sampled = st.sample(
        synth,
        data,
        art["masked"],
        rows,
        folder,
        seed=art["seed"],
        rebalance=spec.synthesis.rebalance,
        constraints=art["constraints"],
        schema=art["schema"],
    )
    art.put("sampled", sampled)
    art.put("rows_estimate", rn._dp_rows(synth))
    return {"rows": rows}


def _validate(job: _Job, art: Artifacts, folder: Path) -> None:
    data = art["data"]
    metrics, flat, validation = st.validate(
        art["masked"],
        art["sampled"],
        art["schema"],
        art["fit"].privacy,
        folder,
        spec=job.spec,
        source_schema=data.schema,
        seed=art["seed"],
        constraints=art["constraints"],
        progress=partial(job.the_run.progress.stage_step, "validate"),
    )
    art.put("metrics", metrics)
    art.put("flat", flat)
    art.put("validation", validation)


def _gate(job: _Job, art: Artifacts, folder: Path) -> dict[str, Any]:
    art.put("decision", st.gate(job.pre.policy, art["flat"], folder))
    record_policy(job.store, job.pre.policy, actor=job.user)
    names: dict[str, Any] = rn._policy_names(job.pre)
    return names


def _report(job: _Job, art: Artifacts, folder: Path) -> None:
    """The report and the release card; the release's id (the one the dead process
    made, for a resumed run) and expiry."""
    mode = art["mode"]
    existing = release_of(job.store, job.the_run.id) if mode is rn.RunMode.RESUME else None
    release_id = existing.id if existing is not None else rn._new_id("rel")
    expires = (rn._parse_ts(job.started) + job.spec.release.expires_after).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    made = rn._Made(
        art["fit"], art["budget"], art["epsilon_spent"], art["sampled"], art["rows_estimate"]
    )
    report = rn._report_doc(
        job, art["data"], art["findings"], art["masked"], made, art["metrics"],
        art["validation"], art["decision"], mode, art["seed"], art["model_from"],
        release_id, expires,
    )  # fmt: skip
    report_json, report_html = write_report(report, folder)
    card = build_card(report, made.sampled.release, rows_estimate=made.rows_estimate)
    write_card(card, folder)
    art.put("report_json", report_json)
    art.put("report_html", report_html)
    art.put("release", (release_id, expires, existing))
