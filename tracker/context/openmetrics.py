"""Scraping OpenMetrics / Prometheus text endpoints into system metrics.

Each sample, every endpoint ``{name: url}`` is fetched and each series becomes
``openmetrics.{name}.{metric}`` (labels, when present, appended as ``{k="v",...}``). With filters,
only metric names matching one of the regular expressions are kept. An endpoint that does not
answer is skipped for that sample and said once at debug level.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_LINE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>\S+)(?:\s+\S+)?\s*$'
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> list[tuple[str, dict[str, str], float]]:
    """``(metric, labels, value)`` for every sample line of the text format."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        try:
            value = float(m.group("value"))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group("labels") or ""))
        out.append((m.group("name"), labels, value))
    return out


def series_key(endpoint: str, metric: str, labels: dict[str, str]) -> str:
    if not labels:
        return f"openmetrics.{endpoint}.{metric}"
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"openmetrics.{endpoint}.{metric}{{{inner}}}"


class OpenMetricsProbe:
    """Fetches every endpoint once per sample."""

    def __init__(self, endpoints: dict[str, str], filters: list[str], once: Any, timeout: float = 2.0) -> None:
        self.endpoints = endpoints
        self.filters = [re.compile(f) for f in filters]
        self.once = once
        self.timeout = timeout

    def sample(self, out: dict[str, float]) -> None:
        import urllib.request

        for name, url in self.endpoints.items():
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                    text = resp.read().decode("utf-8", "replace")
            except OSError as exc:
                self.once.skip(f"openmetrics endpoint {name} ({url})", exc)
                continue
            for metric, labels, value in parse(text):
                if self.filters and not any(f.search(metric) for f in self.filters):
                    continue
                out[series_key(name, metric, labels)] = value  # NaN and +-Inf are kept as such
