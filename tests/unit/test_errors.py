from __future__ import annotations

from synthgate.errors import ConfigError, SourceError, redact, register_secret


def test_url_passwords_are_masked() -> None:
    text = "cannot reach postgresql+psycopg://app:s3cr3t-pw@db:5432/crm"
    assert redact(text) == "cannot reach postgresql+psycopg://app:***@db:5432/crm"


def test_registered_secrets_are_masked_in_every_error() -> None:
    register_secret("canary-password-42")
    err = SourceError("login with canary-password-42 failed", hint="also canary-password-42")
    assert "canary-password-42" not in str(err)
    assert "***" in str(err)
    cfg = ConfigError("bad", problems=["x: got 'canary-password-42'"])
    assert cfg.problems == ["x: got '***'"]


def test_messages_are_one_line() -> None:
    assert "\n" not in str(SourceError("line one\nline two"))


def test_exit_codes_follow_the_cli_contract() -> None:
    from synthgate import errors

    assert errors.ConfigError.exit_code == 2
    assert errors.TableNotFound.exit_code == 2
    assert errors.GateFailed.exit_code == 3
    assert errors.PrivacyBudgetError.exit_code == 5
    assert errors.ConnectionFailed.transient
    assert not errors.AuthenticationFailed.transient
