"""`synthgate init`: a commented job-spec draft that `synthgate run` accepts unchanged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from synthgate.cli import main
from synthgate.config import JobSpec, PiiAction, load_job_spec, parse_job_spec
from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.draft import (
    PASSWORD_ENV,
    ColumnPlan,
    DraftInput,
    PolicyFacts,
    job_name,
    render_draft,
    secret_free_url,
)
from synthgate.errors import ConfigError

ROWS = 80
# values planted in one row each: none may reach the draft, stdout or stderr
CANARIES = {
    "full_name": "Quillon Zebediah Canaryfeld",
    "email": "canary.q7x4@canary-mail.example",
    "phone": "+1 (415) 555-0142",
    "notes": "canary remark XQ-5521 about Quillon",
    "score": 987654321,
}
STATUSES = ("active", "paused", "closed")
# a public domain whose values need quoting: numbers, YAML words and `$` stay literal
ODD = ("1", "yes", "${HOME}", 'it\'s "quoted"', "a: b")


def _frame() -> pd.DataFrame:
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(11)
    rows: dict[str, list[Any]] = {
        "person_id": list(range(1, ROWS + 1)),
        "full_name": [fake.name() for _ in range(ROWS)],
        "email": [fake.email() for _ in range(ROWS)],
        "phone": [fake.phone_number() for _ in range(ROWS)],
        "notes": [fake.sentence(nb_words=8) for _ in range(ROWS)],
        "status": [STATUSES[i % 3] for i in range(ROWS)],
        "odd": [ODD[i % len(ODD)] for i in range(ROWS)],
        "score": [i % 50 for i in range(ROWS)],
        "churned": [i % 4 == 0 for i in range(ROWS)],
    }
    for column, canary in CANARIES.items():
        rows[column][17] = canary
    return pd.DataFrame(rows)


def _odd_check() -> str:
    items = ", ".join("'" + v.replace("'", "''") + "'" for v in ODD)
    return f"odd IN ({items})"


@pytest.fixture(scope="module")
def people_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SQLite `people`: PII columns, CHECK … IN domains, a canary row."""
    path = tmp_path_factory.mktemp("src") / "people.db"
    meta = sa.MetaData()
    table = sa.Table(
        "people",
        meta,
        sa.Column("person_id", sa.Integer, primary_key=True),
        sa.Column("full_name", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("odd", sa.Text),
        sa.Column("score", sa.Integer),
        sa.Column("churned", sa.Boolean),
        sa.CheckConstraint("status IN ('active', 'paused', 'closed')", name="ck_status"),
        sa.CheckConstraint(_odd_check(), name="ck_odd"),
    )
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        meta.create_all(conn)
        _frame().to_sql(table.name, conn, if_exists="append", index=False)
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def people_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rows as a CSV file (no catalog: no declared domain)."""
    path = tmp_path_factory.mktemp("csv") / "people.csv"
    _frame().to_csv(path, index=False)
    return path


def _init(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["init", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _draft(
    url: str, table: str, out: Path, capsys: pytest.CaptureFixture[str], *, policy: str = "default"
) -> str:
    code, stdout, stderr = _init(
        [url, "--table", table, "-o", str(out), "--policy", policy], capsys
    )
    assert code == 0, stderr
    assert stdout == ""
    return out.read_text("utf-8")


def _spec(path: Path) -> JobSpec:
    return load_job_spec(path, env={}).spec


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


# --------------------------------------------------------------------------- SQLite


def test_sqlite_draft_is_a_valid_spec_unchanged(
    people_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{people_db}"
    text = _draft(url, "people", tmp_path / "job.yaml", capsys)
    spec = _spec(tmp_path / "job.yaml")

    assert spec.name == "people"
    assert (spec.source.url, spec.source.table) == (url, "people")
    assert spec.target.url == f"sqlite:///{tmp_path / 'released.db'}"
    assert spec.target.table == "people_synthetic"
    # the pack's actions, written out per PII column
    assert spec.pii.policy == spec.release.policy == "default"
    assert spec.pii.columns["full_name"] is PiiAction.FAKE
    assert spec.pii.columns["email"] is PiiAction.FAKE
    assert spec.pii.columns["phone"] is PiiAction.FAKE
    assert "status" not in spec.pii.columns
    assert "person_id" not in spec.pii.columns  # a key: rekeyed, not a PII action
    assert "EMAIL_ADDRESS, direct identifier" in text
    # declared domains, exactly as the catalog declares them ($ not interpolated)
    assert spec.synthesis.columns["status"].categories == list(STATUSES)
    assert spec.synthesis.columns["odd"].categories == list(ODD)
    assert set(spec.synthesis.columns) == {"status", "odd"}
    # ε written, synthesizer left to the default
    assert spec.synthesis.privacy.epsilon == 3.0
    assert "synthesizer" not in spec.synthesis.model_fields_set
    assert "synthesizer" not in yaml.safe_load(text)["synthesis"]
    # the questions are comments
    assert spec.validation.target_column is None
    assert spec.validation.protected_attributes == []
    assert "# target_column: <one of: status, odd, score, churned>" in text
    assert "QUESTION: who approves?" in text
    assert "QUESTION: how much privacy loss" in text


def test_draft_holds_no_value_from_the_table(
    people_db: Path, people_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _frame()
    for i, url in enumerate((f"sqlite:///{people_db}", str(people_csv))):
        for target in (str(tmp_path / f"job{i}.yaml"), "-"):
            code, stdout, stderr = _init([url, "--table", "people", "-o", target], capsys)
            assert code == 0, stderr
            text = stdout if target == "-" else Path(target).read_text("utf-8")
            for canary in CANARIES.values():
                assert str(canary) not in text + stderr
            for column in ("full_name", "email", "phone", "notes"):
                for value in real[column]:
                    assert value not in text, f"a {column} value is in the draft"


# --------------------------------------------------------------------------- CSV


def test_csv_draft_is_a_valid_spec_unchanged(
    people_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = _init([str(people_csv), "--table", "people"], capsys)
    assert code == 0, stderr
    spec = parse_job_spec(yaml.safe_load(stdout), env={})

    assert spec.source.url == str(people_csv)
    assert spec.target.url == "sqlite:///released.db"  # printed: next to where it is saved
    assert spec.pii.columns["email"] is PiiAction.FAKE
    assert spec.pii.columns["full_name"] is PiiAction.FAKE
    assert spec.synthesis.columns == {}  # a CSV declares no domain
    assert "declares no domain or bound" in stdout
    assert "to stdout" in stderr


# --------------------------------------------------------------------------- packs


def test_policy_pack_decides_actions_and_questions(
    people_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{people_db}"
    pack = tmp_path / "pseudo.yaml"
    pack.write_text(
        "name: pseudo\npii: {direct_identifier: pseudonymize}\n"
        "budget: {epsilon_per_source: 4}\nrequired_approvals: 2\n",
        "utf-8",
    )
    text = _draft(url, "people", tmp_path / "job.yaml", capsys, policy=str(pack))
    spec = _spec(tmp_path / "job.yaml")
    assert spec.release.policy == spec.pii.policy == str(pack)
    assert spec.pii.columns["email"] is PiiAction.PSEUDONYMIZE
    assert "export SYNTHGATE_PSEUDONYM_KEY" in text
    assert "epsilon 4 under pack 'pseudo'" in text
    assert "2 approver(s)" in text

    text = _draft(url, "people", tmp_path / "t.yaml", capsys, policy="internal-testing")
    assert _spec(tmp_path / "t.yaml").release.policy == "internal-testing"
    assert "approves a release" in text


# --------------------------------------------------------------------------- refusals


def test_existing_file_is_not_overwritten_without_force(
    people_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job.yaml"
    out.write_text("mine: true\n", "utf-8")
    args = [f"sqlite:///{people_db}", "--table", "people", "-o", str(out)]

    code, stdout, stderr = _init(args, capsys)
    assert code == 2
    assert "exists; pass --force" in _one_line(stderr)
    assert stdout == ""
    assert out.read_text("utf-8") == "mine: true\n"

    code, _, stderr = _init([*args, "--force"], capsys)
    assert code == 0, stderr
    assert _spec(out).name == "people"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "nope"], "table 'nope' does not exist"),
        (["--table", "people", "--policy", "no-such-pack"], "no-such-pack"),
        (["--table", "people", "-o", "{tmp}/missing/job.yaml"], "does not exist; create it"),
        (["--table", "people", "-o", "{tmp}"], "is a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    people_db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, stdout, stderr = _init([f"sqlite:///{people_db}", *args], capsys)
    assert code == 2
    assert message in _one_line(stderr)
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_one_table_source_needs_no_table_option(
    people_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = _init([str(people_csv)], capsys)
    assert code == 0, stderr
    assert parse_job_spec(yaml.safe_load(stdout), env={}).source.table == "people"


def test_table_is_required_where_there_are_several_and_help_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "two.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alpha (a INTEGER)")
        conn.execute("CREATE TABLE beta (b INTEGER)")
    code, _, stderr = _init([f"sqlite:///{db}"], capsys)
    assert code == 2
    line = _one_line(stderr.split("\n  ")[0])
    assert "the source holds 2 tables; name one with --table" in line
    assert "alpha, beta" in stderr
    code, stdout, _ = _init(["--help"], capsys)
    assert code == 0
    for word in ("--table", "--output", "--policy", "--force", "QUESTION", "synthgate run"):
        assert word.lower() in stdout.lower()
    assert main(["--help"]) == 0
    assert "init" in capsys.readouterr().out


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    ("url", "expected", "replaced"),
    [
        (
            "postgresql://app:s3cr%40t@db:5432/crm",
            "postgresql://app:${SYNTHGATE_SOURCE_PASSWORD}@db:5432/crm",
            True,
        ),
        ("mysql://:hunter2@db/crm", "mysql://:${SYNTHGATE_SOURCE_PASSWORD}@db/crm", True),
        (
            "postgresql://app@db/crm?sslmode=require&Password=hunter2",
            "postgresql://app@db/crm?sslmode=require&Password=${SYNTHGATE_SOURCE_PASSWORD}",
            True,
        ),
        # not passwords: kept
        ("postgresql://app:${PG_PASSWORD}@db/crm", "postgresql://app:${PG_PASSWORD}@db/crm", False),
        ("postgresql://app@db/crm", "postgresql://app@db/crm", False),
        ("postgresql://db:5432/crm", "postgresql://db:5432/crm", False),
        ("sqlite:///data/a:b@c.db", "sqlite:///data/a:b@c.db", False),
        ("data/people.csv", "data/people.csv", False),
    ],
)
def test_secret_free_url(url: str, expected: str, replaced: bool) -> None:
    assert secret_free_url(url) == (expected, replaced)


def test_unreachable_source_never_prints_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job.yaml"
    url = "postgresql://app:pw-0f-the-test@127.0.0.1:1/crm"  # nothing listens on port 1
    code, stdout, stderr = _init([url, "--table", "x", "-o", str(out)], capsys)
    assert code == 1
    assert "pw-0f-the-test" not in stdout + _one_line(stderr)
    assert not out.exists()


def _input(url: str, **kw: Any) -> DraftInput:
    schema = TableSchema(
        "Accounts 2024!",
        (
            ColumnSchema("id", LogicalType.IDENTIFIER, nullable=False),
            ColumnSchema("tier", LogicalType.CATEGORICAL, domain=("a", "b")),
            ColumnSchema("rate", LogicalType.FLOAT, bounds=(0.0, 1.0)),
            ColumnSchema("blob", LogicalType.TEXT, native_type="BYTEA"),
        ),
        primary_key=("id",),
    )
    facts = PolicyFacts("default", "default", 10.0, 1, auto_approve=False, needs_key=False)
    plans = (ColumnPlan("id", "rekey"), ColumnPlan("tier", "keep"), ColumnPlan("rate", "keep"))
    return DraftInput(url, schema, plans, facts, PurePath("out"), **kw)


def test_password_in_url_becomes_an_environment_reference() -> None:
    text = render_draft(_input("postgresql://app:s3cr3t-pw@db/crm"))
    assert "s3cr3t-pw" not in text
    assert f"export {PASSWORD_ENV}" in text
    with pytest.raises(ConfigError) as unset:
        parse_job_spec(yaml.safe_load(text), env={})
    assert PASSWORD_ENV in unset.value.problems[0]
    spec = parse_job_spec(yaml.safe_load(text), env={PASSWORD_ENV: "pw-from-env"})
    assert spec.source.url == "postgresql://app:pw-from-env@db/crm"


def test_render_names_bounds_unreadable_columns_and_target() -> None:
    text = render_draft(_input("postgresql://app@db/crm", unreadable=("blob",)))
    spec = parse_job_spec(yaml.safe_load(text), env={})
    assert spec.name == job_name("Accounts 2024!") == "accounts-2024"
    assert spec.source.table == "Accounts 2024!"
    assert spec.source.columns == ["id", "tier", "rate"]
    assert spec.target.url == "sqlite:///out/released.db"
    assert spec.synthesis.columns["rate"].min == 0.0
    assert spec.synthesis.columns["rate"].max == 1.0
    assert spec.synthesis.columns["tier"].categories == ["a", "b"]
    assert spec.pii.columns == {}
    assert "fresh keys in the release, never learned: id" in text


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("customers", "customers"),
        ("Sales.Q1 2024", "sales.q1-2024"),
        ("__x__", "x"),
        ("$$$", "job"),
    ],
)
def test_job_name_matches_the_spec_pattern(table: str, name: str) -> None:
    assert job_name(table) == name
    assert parse_job_spec(
        {"name": name, "source": {"url": "a.csv", "table": "a"}, "target": {"url": "b.csv"}},
        env={},
    )


# --------------------------------------------------------------------------- a real run


@pytest.mark.slow
def test_unchanged_draft_runs_to_a_release_decision(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from synthgate.demo import write_demo_db

    # 1,500 rows: the default dp-ctgan batch (1,000) does not fit a few hundred rows yet
    db = write_demo_db(tmp_path / "crm.db", 1500)
    _draft(f"sqlite:///{db}", "customers", tmp_path / "job.yaml", capsys)

    code = main(["run", str(tmp_path / "job.yaml"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (3, 4), out
    assert out["status"] in {"BLOCKED", "AWAITING_APPROVAL"}
    assert not (tmp_path / "released.db").exists(), "nothing is published before approval"
