"""``python -m synthgate.cli``: the command line, as sync starts it per job."""

from synthgate.cli import _entry

_entry()
