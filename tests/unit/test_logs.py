from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from synthgate.cli import main
from synthgate.errors import ConfigError
from synthgate.logs import LogFormat, configure, log_event


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    configure(LogFormat.TEXT)


def test_json_lines_carry_the_event_fields_and_redact_secrets() -> None:
    buf = io.StringIO()
    assert configure("json", stream=buf) is LogFormat.JSON
    log_event(
        "stage.finished",
        job="nightly",
        run_id="run-1",
        stage="extract",
        duration=1.23456789,
        source="postgresql://app:hunter2-canary@db/crm",
    )
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["event"] == "stage.finished"
    assert line["level"] == "info"
    assert line["job"] == "nightly"
    assert line["run_id"] == "run-1"
    assert line["stage"] == "extract"
    assert line["duration"] == pytest.approx(1.234568)
    assert line["ts"].endswith("Z")
    assert "hunter2-canary" not in buf.getvalue()
    assert "db/crm" in line["source"]


def test_text_format_is_quiet_below_warnings() -> None:
    buf = io.StringIO()
    configure("text", stream=buf)
    log_event("stage.started", job="nightly")
    assert buf.getvalue() == ""
    log_event("run.locked", level=logging.WARNING, job="nightly", run_id=None)
    text = buf.getvalue()
    assert text.startswith("synthgate warning: run.locked job=nightly")
    assert "run_id" not in text  # empty fields are left out


def test_level_override_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setenv("SYNTHGATE_LOG_LEVEL", "error")
    configure("json", stream=buf)
    log_event("stage.started", job="nightly")
    assert buf.getvalue() == ""
    with pytest.raises(ConfigError, match="log format 'xml'"):
        configure("xml")
    with pytest.raises(ConfigError, match="log level 'LOUD'"):
        configure("json", level="loud")


def test_cli_rejects_an_unknown_log_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNTHGATE_LOG_FORMAT", "xml")
    assert main(["--help"]) == 0  # eager help does not read the option
    capsys.readouterr()
    assert main(["sync", "/nonexistent"]) == 2
    assert "xml" in capsys.readouterr().err


def test_libraries_log_warnings_only_in_our_format_even_after_basic_config() -> None:
    buf = io.StringIO()
    configure("json", stream=buf)
    # what Opacus does on import: without our root handler this would print INFO lines
    logging.basicConfig(format="%(levelname)s:%(message)s", level=logging.INFO)
    library = logging.getLogger("some.library")
    library.setLevel(logging.INFO)
    library.info("Created temporary directory for docs")
    library.warning("a library warning with postgresql://u:pw-canary@db/x in it")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["level"] == "warning"
    assert "pw-canary" not in lines[0]


def test_known_training_noise_is_silenced_but_other_warnings_are_not() -> None:
    import warnings

    configure("text")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        configure("text")  # the filters go in front of the default one
        warnings.warn("Secure RNG turned off. fine for experimentation", UserWarning, stacklevel=1)
        warnings.warn("something a user should see", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something a user should see"]
