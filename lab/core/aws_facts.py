"""AWS's numbers as the lab states them, each with the AWS page that says it
(lab/core/aws_facts.json). Settings, the quiz and the exercises' hints read them
here, so that a number said in several places is kept in one."""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FACTS_FILE = Path(__file__).with_name("aws_facts.json")


@dataclass(frozen=True)
class Fact:
    name: str
    says: str
    values: dict
    source: str
    stated: tuple[dict, ...]  # where the docs say it: {"file", "text"} (a template of values)

    def __getitem__(self, key: str):
        return self.values[key]

    @property
    def range(self) -> tuple[int, int]:
        return self.values["min"], self.values["max"]


@cache
def facts() -> dict[str, Fact]:
    table = json.loads(FACTS_FILE.read_text())["facts"]
    return {
        name: Fact(name, entry["says"], entry["values"], entry["source"], tuple(entry["stated"]))
        for name, entry in table.items()
    }


def fact(name: str) -> Fact:
    return facts()[name]
