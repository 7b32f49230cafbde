"""The live server as the door table sees it from outside: its URLs, and its /metrics read as
numbers, with bounded waits on conditions over them (never a fixed sleep)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from coordinator.config.settings import Settings
from tests.rig.waiting import eventually

# A wait on a condition that holds within milliseconds when the server is right; the bound only
# turns a server that is wrong into a failure instead of a hang (a loaded 2-core machine is slow).
CONDITION_TIMEOUT_S = 60.0

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Scrape:
    """One reading of /metrics: sample name → {labels → value}."""

    samples: dict[str, dict[Labels, float]]

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels`` (0 where none)."""
        wanted = set(labels.items())
        return sum(v for key, v in self.samples.get(name, {}).items() if wanted <= key)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(key)[label] for key in self.samples.get(name, {}) if label in dict(key)}


@dataclass(frozen=True)
class DoorServer:
    url: str
    wyoming_port: int
    runtime_settings: Settings

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def scrape(self) -> Scrape:
        response = httpx.get(f"{self.url}/metrics", timeout=CONDITION_TIMEOUT_S)
        response.raise_for_status()
        samples: dict[str, dict[Labels, float]] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
        return Scrape(samples)

    def until(self, condition: Callable[[Scrape], bool], what: str) -> Scrape:
        """The first scrape where ``condition`` holds; fails naming ``what`` past the bound."""

        def holding() -> Scrape | None:
            scrape = self.scrape()
            return scrape if condition(scrape) else None

        return eventually(holding, what, timeout_s=CONDITION_TIMEOUT_S)

    def idle(self) -> Scrape:
        """The first scrape where no engine generates anything (every model's active sequences 0)."""
        return self.until(lambda s: s.value("orpheus_active_sequences") == 0, "every engine idle")
