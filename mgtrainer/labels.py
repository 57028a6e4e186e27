"""What a person reads as the same label: one class spelled two ways (case, spacing, Unicode normalisation,
invisible characters) is an error in the data layer and in a classify config's `labels:`, never two classes."""

from __future__ import annotations

import unicodedata

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))  # characters that print as nothing


def class_key(label: str) -> str:
    """The class a label names: NFKC-normalised, invisible characters gone, whitespace collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", label).translate(ZERO_WIDTH).split()).casefold()


def looks_same(a: str, b: str) -> bool:
    """Two spellings that print alike (a combining accent vs a precomposed letter): show their code points."""
    return unicodedata.normalize("NFKC", a) == unicodedata.normalize("NFKC", b)
