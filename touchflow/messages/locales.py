"""Locale tags: normalized, their fallback chain, and the babel locale that formats for one."""

from __future__ import annotations

import re
from functools import lru_cache

import babel

FALLBACK_LOCALE = "en"


def normalize_locale(tag: str) -> str:
    """``de-at`` -> ``de_AT``, ``zh-hant-tw`` -> ``zh_Hant_TW``; drops ``.UTF-8``/``@euro``."""
    parts = [p for p in re.split(r"[-_]", tag.split(".")[0].split("@")[0].strip()) if p]
    if not parts:
        return ""
    rest = [p.title() if len(p) == 4 else p.upper() for p in parts[1:]]
    return "_".join([parts[0].lower(), *rest])


def locale_candidates(tag: str | None) -> list[str]:
    """Most specific first: ``de_AT`` -> ``["de_AT", "de"]``."""
    parts = normalize_locale(tag).split("_") if tag else []
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1) if parts[0]]


@lru_cache(maxsize=256)
def babel_locale(tag: str | None) -> babel.Locale:
    """The babel locale for ``tag``, falling back along its candidates, then to English."""
    for candidate in [*locale_candidates(tag), FALLBACK_LOCALE]:
        try:
            return babel.Locale.parse(candidate)
        except (ValueError, babel.UnknownLocaleError):
            continue
    raise AssertionError("babel does not know English")  # pragma: no cover
