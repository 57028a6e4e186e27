"""How the config layer quotes what a user wrote: bounded (an alias bomb is not echoed whole), one line."""

from __future__ import annotations

import difflib
import reprlib

SHOWN = 120  # a value quoted in a message is cut to this many characters (an alias bomb is not echoed whole)
LINE = 600  # and no message is longer than this

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = SHOWN
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 6, 6


def show(value) -> str:
    """repr() for a message: bounded depth (an alias bomb is not expanded) and cut to SHOWN characters."""
    return cut(_REPR.repr(value), SHOWN)


def cut(text, limit: int) -> str:
    text = " ".join(str(text).split("\n"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_text(key: str, limit: int = 80) -> str:
    """A config key as a message shows it: every config key is ASCII, so a non-ASCII or unprintable character
    is shown escaped (a Cyrillic 'а' in le\\u0430rning_rate looks like the Latin one)."""
    text = key if key.isascii() and key.isprintable() else key.encode("ascii", "backslashreplace").decode()
    return cut(text, limit)


def did_you_mean(key: str, names) -> str:
    """The ' (did you mean X?)' suffix for the closest of `names`; '' when none is close."""
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""

