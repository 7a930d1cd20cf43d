"""Run ids (unique, short) and run names (readable, like ``bright-river-12``)."""

from __future__ import annotations

import os

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

_ADJECTIVES = (
    "amber bold brisk calm clever cosmic crisp daring dapper eager electric fancy fearless "
    "gentle glad golden graceful happy hardy honest icy jolly keen kind lively lucky lunar "
    "mellow misty noble polar proud quiet rapid royal rustic serene sharp shiny silent silver "
    "smooth snowy solar spry steady stellar stormy sunny swift tidy vivid warm wild wise witty"
).split()
_NOUNS = (
    "aurora bay brook canyon cedar cliff cloud comet coral crater dawn delta dune ember field "
    "fjord flame forest frost galaxy glacier grove harbor haze lake leaf meadow mesa moon "
    "nebula oasis ocean orbit pine planet prairie rain reef ridge river shadow sky snow spark "
    "star stone storm sun thunder tide valley wave willow wind"
).split()


def _choice(seq: tuple[str, ...] | list[str] | str) -> str:
    """A uniformly random element (os.urandom: `secrets` costs init 10 ms to import)."""
    return seq[int.from_bytes(os.urandom(4), "big") % len(seq)]


def new_run_id() -> str:
    """Eight random base-36 characters (about 2.8e12 possibilities)."""
    return "".join(_choice(_ALPHABET) for _ in range(8))


def new_run_name(project_dir: str) -> str:
    """``adjective-noun-N`` where N counts the project's runs, so names sort by creation."""
    try:
        count = sum(1 for e in os.scandir(project_dir) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        count = 0
    return f"{_choice(_ADJECTIVES)}-{_choice(_NOUNS)}-{count + 1}"
