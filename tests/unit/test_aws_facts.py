"""Every AWS number the lab states comes from lab/core/aws_facts.json, says the
same value wherever it stands, and carries its AWS source in the same
paragraph, list item or table row, so that the guide, the README, the quiz and
the settings cannot drift apart (issue 26, part 4)."""

import re

import pytest

from lab.core import settings
from lab.core.aws_facts import facts
from lab.teach import quiz
from unit_support import PROJECT_ROOT

STATEMENTS = [(fact, place) for fact in facts().values() for place in fact.stated]


def blocks(path) -> list[str]:
    """The file cut where a reader sees one statement: Markdown paragraphs, list
    items and table rows; in code, each comment block. Whitespace is folded, so
    a sentence may wrap anywhere."""
    text = path.read_text()
    if path.suffix == ".py":
        pieces, current = [], []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                current.append(stripped.lstrip("#"))
            else:
                pieces.append(current)
                current = []
        pieces.append(current)
    else:
        pieces, current = [], []
        for line in text.splitlines():
            starts_new = not line.strip() or line.startswith("|") or re.match(r"\s*(- |\d+\. )", line)
            if starts_new:
                pieces.append(current)
                current = []
            if line.strip():
                current.append(line)
            if line.startswith("|"):
                pieces.append(current)
                current = []
        pieces.append(current)
    return [" ".join(" ".join(piece).split()) for piece in pieces if piece]


@pytest.mark.parametrize(
    ("fact", "place"),
    STATEMENTS,
    ids=[f"{fact.name}:{place['file']}:{i}" for i, (fact, place) in enumerate(STATEMENTS)],
)
def test_each_statement_says_the_registered_value_beside_its_source(fact, place):
    said = " ".join(place["text"].format(**fact.values).split())
    where = [block for block in blocks(PROJECT_ROOT / place["file"]) if said in block]
    assert where, f"{place['file']} no longer says {said!r} ({fact.name}: {fact.says})"
    for block in where:
        assert fact.source in block, f"{place['file']}: {said!r} without its source {fact.source}"


def test_every_fact_has_an_aws_source():
    for fact in facts().values():
        assert fact.source.startswith("https://docs.aws.amazon.com/"), fact.name
        assert fact.says and isinstance(fact.values, dict)


def test_the_settings_refuse_what_aws_refuses_by_the_same_numbers():
    assert settings.FUNCTION_TIMEOUT_RANGE == (facts()["function_timeout"]["min"], facts()["function_timeout"]["max"])
    assert settings.RETENTION_RANGE == (60, 14 * 24 * 3600) and settings.DLQ_RETENTION_SECONDS == 14 * 24 * 3600
    assert facts()["retention"]["default"] == 4 * 24 * 3600 and facts()["visibility_timeout"]["max"] == 12 * 3600
    with pytest.raises(settings.SettingsError, match="at most 10"):
        settings.Stack(suffix="-fifo", fifo=True, batch_size=11, batching_window=1).validate()


NUMBERS = re.compile(r"\d|\b(two|three|four|five|six|seven|eight|nine|ten)\b.*\b(times|minutes|days|hours)\b")


def test_a_quiz_answer_that_states_an_aws_number_names_its_source():
    for question in quiz.QUESTIONS:
        stated = f"{question.choices[question.answer]} {question.why}"
        if NUMBERS.search(stated):
            assert question.source.startswith("https://docs.aws.amazon.com/"), question.text
