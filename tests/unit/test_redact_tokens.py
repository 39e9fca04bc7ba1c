"""Secrets are masked as whole tokens and URLs are parsed before masking.

Masking a secret inside other text tells the secret (a key ``short`` turned "is
too short" into "is too ***"), and a URL whose password holds an unencoded '@'
used to be masked only up to that '@', printing the rest.
"""

from __future__ import annotations

import pytest

from synthgate.errors import ConfigError, SynthgateError, redact, register_secret
from synthgate.pii import load_key
from synthgate.sources import open_source


def test_a_refused_short_key_does_not_mask_the_words_of_its_own_message() -> None:
    with pytest.raises(ConfigError) as info:
        load_key(env="SG_TEST_KEY", key_file=None, environ={"SG_TEST_KEY": "short"})
    assert "is too short; it needs at least 16 characters" in str(info.value)
    assert "***" not in str(info.value)
    assert redact("a short note") == "a short note"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("key Kelp7q.", "key ***."),
        ("(Kelp7q)", "(***)"),
        ("Kelp7q", "***"),
        ("Kelp7qs and xKelp7q and Kelp7q_2", "Kelp7qs and xKelp7q and Kelp7q_2"),
        ("user=Kelp7q;host=db", "user=***;host=db"),
    ],
)
def test_secrets_are_masked_as_whole_tokens_only(text: str, masked: str) -> None:
    register_secret("Kelp7q")
    assert redact(text) == masked


def test_a_secret_with_punctuation_is_masked_where_it_stands_alone() -> None:
    register_secret("Vx!9@pw")
    assert redact("pw Vx!9@pw, then") == "pw ***, then"
    assert redact("aVx!9@pw") == "aVx!9@pw"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mysql://root:p@ss@x@db:3306/crm failed", "mysql://root:***@db:3306/crm failed"),
        ("'postgresql://app:pa/ss:w@db/crm' is bad", "'postgresql://app:***@db/crm' is bad"),
        ("postgresql://app:pw7@db/crm?note=a@b", "postgresql://app:***@db/crm?note=a@b"),
        ("file:///tmp/a@b.csv and mysql://root@db/x", "file:///tmp/a@b.csv and mysql://root@db/x"),
    ],
)
def test_url_passwords_are_masked_whole(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_a_database_url_with_an_unencoded_at_is_refused_without_its_tail() -> None:
    with pytest.raises(SynthgateError) as info:
        open_source("mysql://root:Tail-pw@Zq7-rest@127.0.0.1:3306/test")
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "unencoded '@'" in message
    assert "%40" in message
    assert "Tail-pw" not in message
    assert "Zq7-rest" not in message
    assert "Zq7-rest" not in redact("could not reach Tail-pw@Zq7-rest")
