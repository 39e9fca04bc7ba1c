"""Keyed pseudonyms: the same input and key give the same surrogate, in any table or run.

The key comes from an environment variable or a key file and is registered as
a secret; it is never logged or stored. Every surrogate is derived from it:

* identifiers with digits (phone, SSN, card, IBAN, national ids, customer ids,
  key columns): the digits are put through a keyed format-preserving cipher
  (an FF1-style Feistel network over the decimal digits, with AES-256 as the
  round function under a key derived by HMAC-SHA256). Letters and separators
  stay where they are. The cipher is a permutation, so two distinct inputs of
  one shape never share a surrogate — joins cannot merge two people;
* names, emails, street addresses, places, URLs and IP addresses: the
  HMAC-SHA256 of the value seeds the choice of Faker's own words (first and
  last names, street suffixes, email domains), keeping the number of words and
  their case; a first-name column gets first names, a last-name column last names.

Only distinct values are transformed (:meth:`Pseudonymizer.map` factorizes the
column first), so the cost grows with the number of distinct values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgate.errors import ConfigError, register_secret
from synthgate.pii._leak import normalise

__all__ = ["MIN_KEY_CHARS", "Pseudonymizer", "load_key"]

MIN_KEY_CHARS = 16
_ROUNDS = 10  # FF1 uses ten rounds
_CHUNK = 36  # digits per Feistel block (two halves of at most 18 digits fit uint64)
_DIGIT = re.compile(r"\d")
_WORDY = frozenset(
    {
        "PERSON",
        "FIRST_NAME",
        "LAST_NAME",
        "EMAIL_ADDRESS",
        "STREET_ADDRESS",
        "LOCATION",
        "URL",
        "IP_ADDRESS",
    }
)


def load_key(*, env: str, key_file: Path | None, environ: Any = None) -> bytes:
    """The pseudonym key from *key_file* or the variable *env*, or a one-line ConfigError."""
    environ = os.environ if environ is None else environ
    if key_file is not None:
        try:
            text = Path(key_file).expanduser().read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"pii.key_file {key_file} cannot be read ({exc.strerror})",
                hint="pseudonymize needs a key; create the file or use pii.key_env",
            ) from None
        origin = f"pii.key_file {key_file}"
    else:
        text = str(environ.get(env, "")).strip()
        if not text:
            raise ConfigError(
                f"pseudonymize needs a key, but the environment variable {env} is not set",
                hint=f"export {env} (at least {MIN_KEY_CHARS} characters) or set pii.key_file",
            )
        origin = f"the environment variable {env}"
    if len(text) < MIN_KEY_CHARS:  # refused, so not registered: its mask would name it
        raise ConfigError(
            f"the pseudonym key in {origin} is too short; it needs at least "
            f"{MIN_KEY_CHARS} characters"
        )
    register_secret(text)
    return text.encode("utf-8")


class Pseudonymizer:
    """Consistent, keyed, format-preserving surrogates. Holds the key, never values."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_CHARS:
            raise ConfigError(f"a pseudonym key needs at least {MIN_KEY_CHARS} bytes")
        self._key = key
        self._issued: set[str] = set()

    def __repr__(self) -> str:
        return "Pseudonymizer(key=***)"

    @property
    def issued(self) -> frozenset[str]:
        """The surrogates :meth:`surrogate` wrote into free text, and their words: a
        re-scan of redacted text must not count them as leaks (they look real by
        design). Surrogates only, never an input value."""
        return frozenset(self._issued)

    # ------------------------------------------------------------------ keys

    def _subkey(self, purpose: str) -> bytes:
        return hmac.digest(self._key, f"synthgate/{purpose}".encode(), "sha256")

    def _encryptor(self, entity: str) -> Any:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        # ECB over independent single blocks is the AES block function itself: the
        # Feistel round function of FF1, not a mode for encrypting messages
        key = self._subkey(f"fpe/{entity}")
        return Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305

    def sequence_seed(self, label: str) -> int:
        """A 63-bit seed derived from the key, for surrogate sequences of synthetic rows."""
        return int.from_bytes(self._subkey(f"sequence/{label}")[:8], "big") >> 1

    # ------------------------------------------------------------------ public

    def map(self, entity: str | None, series: pd.Series) -> pd.Series:
        """*series* with every non-null value replaced by its surrogate."""
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        if len(uniques) == 0:
            return series.copy()
        surrogates = self.surrogates(entity, [str(u) for u in uniques])
        mapped = np.array([*surrogates, None], dtype=object)  # code -1 (null) → None
        return pd.Series(mapped[codes], index=series.index, dtype=object)

    def surrogate(self, entity: str | None, value: object) -> str:
        """One value's surrogate, as free-text redaction asks for it (remembered in
        :attr:`issued`)."""
        out = self.surrogates(entity, [str(value)])[0]
        self._issued.add(out)
        self._issued.update(out.split())
        return out

    def surrogates(self, entity: str | None, values: Sequence[str]) -> list[str]:
        """Surrogates of distinct *values*, in order."""
        name = entity or "KEY"
        if name in _WORDY:
            key, prefix = self._key, f"{name}\x1f"
            digests = [hmac.digest(key, (prefix + normalise(v)).encode(), "sha256") for v in values]
            if name == "EMAIL_ADDRESS":
                return self._emails(digests)
            return [self._wordy(name, v, d) for v, d in zip(values, digests, strict=True)]
        return self._digits(name, values)

    # ------------------------------------------------------------------ digits

    def _digits(self, entity: str, values: Sequence[str]) -> list[str]:
        """Digits enciphered in place; rows grouped by length, then by shape, in numpy."""
        out: list[str] = list(values)
        n = len(values)
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
        ascii_ = np.fromiter(map(str.isascii, values), dtype=bool, count=n)
        encryptor = self._encryptor(entity)
        for width in np.unique(lengths[ascii_]).tolist():
            idx = np.nonzero((lengths == width) & ascii_)[0]
            if width == 0:
                continue
            joined = "".join([values[i] for i in idx.tolist()]).encode("ascii")
            grid = np.frombuffer(joined, dtype=np.uint8).reshape(len(idx), width).copy()
            digit = (grid >= 48) & (grid <= 57)
            enough = digit.sum(axis=1) >= 2
            for i in idx[~enough].tolist():
                out[i] = self._chars(entity, values[i])
            rows = np.nonzero(enough)[0]
            if len(rows) == 0:
                continue
            shape = np.where(digit[rows], np.uint8(35), grid[rows])  # '#' marks a digit
            keys = np.ascontiguousarray(shape).view(np.dtype((np.void, width))).ravel()
            _, group = np.unique(keys, return_inverse=True)
            order = np.argsort(group, kind="stable")
            bounds = np.cumsum(np.bincount(group))
            start = 0
            for stop in bounds.tolist():
                members = rows[order[start:stop]]
                start = stop
                pos = np.nonzero(digit[members[0]])[0]
                digits = grid[np.ix_(members, pos)].astype(np.int64) - 48
                for chunk in range(0, digits.shape[1], _CHUNK):
                    block = digits[:, chunk : chunk + _CHUNK]
                    digits[:, chunk : chunk + _CHUNK] = _feistel(encryptor, block, chunk // _CHUNK)
                grid[np.ix_(members, pos)] = (digits + 48).astype(np.uint8)
            text = grid[rows].tobytes().decode("ascii")
            for k, i in enumerate(idx[rows].tolist()):
                out[i] = text[k * width : (k + 1) * width]
        return out

    def _chars(self, entity: str, value: str) -> str:
        """Short or non-ASCII values: each letter and digit replaced, keyed, same class and case."""
        stream = self._stream(entity, value, len(value))
        chars = []
        for ch, b in zip(value, stream, strict=False):
            if ch.isdigit():
                chars.append(str(b % 10))
            elif ch.isalpha():
                letter = chr(ord("a") + b % 26)
                chars.append(letter.upper() if ch.isupper() else letter)
            else:
                chars.append(ch)
        return "".join(chars)

    def _stream(self, entity: str, value: str, n: int) -> bytes:
        out = b""
        counter = 0
        while len(out) < n:
            msg = f"{entity}\x1f{counter}\x1f{normalise(value)}".encode()
            out += hmac.digest(self._key, msg, "sha256")
            counter += 1
        return out[:n]

    # ------------------------------------------------------------------ words

    @cached_property
    def _words(self) -> dict[str, tuple[str, ...]]:
        from faker.providers.address.en_US import Provider as Address
        from faker.providers.internet import Provider as Internet
        from faker.providers.person.en_US import Provider as Person

        return {
            "first": tuple(sorted(Person.first_names)),
            "last": tuple(sorted(Person.last_names)),
            "suffix": tuple(Address.street_suffixes),
            "city_suffix": tuple(Address.city_suffixes),
            "domain": tuple(Internet.free_email_domains),
            "tld": ("com", "org", "net"),
        }

    def _emails(self, digests: Sequence[bytes]) -> list[str]:
        """Emails from digests, word choices in numpy (as :meth:`_wordy` would pick them)."""
        w = self._words
        words = np.frombuffer(b"".join(digests), dtype=">u4").reshape(-1, 8).astype(np.int64)
        first = [x.lower() for x in w["first"]]
        last = [x.lower() for x in w["last"]]
        domain = [x.lower() for x in w["domain"]]
        return [
            f"{first[a]}.{last[b]}{c}@{domain[d]}"
            for a, b, c, d in zip(
                (words[:, 0] % len(first)).tolist(),
                (words[:, 1] % len(last)).tolist(),
                (words[:, 2] % 1_000_000).tolist(),
                (words[:, 3] % len(domain)).tolist(),
                strict=True,
            )
        ]

    def _wordy(self, entity: str, value: str, d: bytes) -> str:
        """A surrogate made of Faker's words, chosen by *d* (the value's keyed digest)."""
        w = self._words

        def pick(kind: str, at: int) -> str:
            words = w[kind]
            return words[int.from_bytes(d[at : at + 4], "big") % len(words)]

        first, last = pick("first", 0), pick("last", 4)
        number = int.from_bytes(d[8:12], "big")
        if entity in {"FIRST_NAME", "LAST_NAME"}:
            name = first if entity == "FIRST_NAME" else last
            return name.upper() if value.isupper() else name.lower() if value.islower() else name
        if entity == "PERSON":
            tokens = value.split()
            parts = {1: [last], 2: [first, last]}.get(
                len(tokens), [first, f"{pick('first', 12)[0]}.", last]
            )
            name = " ".join(parts)
            return name.upper() if value.isupper() else name.lower() if value.islower() else name
        if entity == "EMAIL_ADDRESS":
            return f"{first}.{last}{number % 1_000_000}@{pick('domain', 12)}".lower()
        if entity == "STREET_ADDRESS":
            return f"{number % 9899 + 100} {pick('last', 12)} {pick('suffix', 16)}"
        if entity == "LOCATION":
            return f"{pick('last', 12)}{pick('city_suffix', 16)}"
        if entity == "URL":
            return f"https://www.{last.lower()}{number % 1000}.{pick('tld', 12)}/"
        # IP_ADDRESS: a public-looking address, keeping the family
        if ":" in value:
            return ":".join(f"{int.from_bytes(d[i : i + 2], 'big'):x}" for i in range(0, 16, 2))
        return f"{d[0] % 223 + 1}.{d[1]}.{d[2]}.{d[3] % 254 + 1}"


def hmac_sha256_many(key: bytes, messages: Sequence[bytes]) -> list[bytes]:
    """HMAC-SHA256 (RFC 2104) of each message under one key, with the padded key's
    hash states computed once (``hmac.digest`` recomputes them for every call)."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    out = []
    for message in messages:
        i = inner.copy()
        i.update(message)
        o = outer.copy()
        o.update(i.digest())
        out.append(o.digest())
    return out


def _feistel(encryptor: Any, digits: Any, chunk: int) -> Any:
    """A keyed permutation of rows of decimal digits (FF1-style, alternating halves)."""
    n, k = digits.shape
    if k == 0:
        return digits
    if k == 1:
        table = np.argsort(_prf(encryptor, np.arange(10, dtype=np.uint64), 255, 1, chunk))
        return table[digits]
    u = k // 2
    v = k - u
    powers = 10 ** np.arange(v - 1, -1, -1, dtype=np.uint64)
    a: Any = digits[:, :u].astype(np.uint64) @ powers[v - u :]
    b: Any = digits[:, u:].astype(np.uint64) @ powers
    for r in range(_ROUNDS):
        m = u if r % 2 == 0 else v
        c = (a + _prf(encryptor, b, r, k, chunk) % np.uint64(10**m)) % np.uint64(10**m)
        a, b = b, c
    out = np.empty((n, k), dtype=np.int64)
    for j in range(u - 1, -1, -1):
        out[:, j] = (a % 10).astype(np.int64)
        a = a // 10
    for j in range(k - 1, u - 1, -1):
        out[:, j] = (b % 10).astype(np.int64)
        b = b // 10
    return out


def _prf(encryptor: Any, half: Any, round_: int, width: int, chunk: int) -> Any:
    """AES-256 of (half, round, width, chunk) for every row, as uint64."""
    blocks = np.zeros((len(half), 2), dtype=np.uint64)
    blocks[:, 0] = half
    blocks[:, 1] = np.uint64(round_ | (width << 8) | (chunk << 16))
    out = np.frombuffer(encryptor.update(blocks.tobytes()), dtype=np.uint64).reshape(-1, 2)
    return out[:, 0]


def fingerprint(key: bytes) -> str:
    """A short, non-reversible id of a key, to tell runs with different keys apart."""
    return hashlib.sha256(b"synthgate-key-id\x00" + key).hexdigest()[:12]
