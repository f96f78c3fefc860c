"""The producer's orders and options, without a queue: deterministic mixes,
and any option value either taken or refused with one clear line."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from producer import Options, make_order, share_picks
from producer.cli import options


def producer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "producer", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("share, expected", [(0.0, 0), (0.1, 10), (0.25, 25), (1.0, 100)])
def test_shares_pick_exactly_that_many_orders(share, expected):
    assert sum(share_picks(index, share) for index in range(100)) == expected


def test_the_same_arguments_make_the_same_orders():
    args = Options(poison_share=0.2, fail_share=0.3, run_id="r")
    first = [make_order("r", index, args) for index in range(20)]
    assert first == [make_order("r", index, args) for index in range(20)]
    kinds = [kind for kind, _, _ in first]
    assert kinds.count("poison") == 4
    assert "fail_attempts" in kinds


@pytest.mark.parametrize(
    "args, says",
    [
        (["--count", "-1"], "must be a number, not negative"),
        (["--rate", "nan"], "must be a number, not negative"),
        (["--poison-share", "2"], "is not a share between 0 and 1"),
        (["--rate", "fast"], "invalid"),
    ],
)
def test_bad_arguments_get_a_clear_error(args, says):
    result = producer(*args)
    assert result.returncode == 2
    assert says in result.stderr


@pytest.mark.parametrize(
    "fields, says",
    [
        (dict(poison_share=1.5), "poison_share=1.5 is not a share"),
        (dict(count=-1), "count=-1 must be a number"),
        (dict(rate=float("nan")), "rate=nan must be a number"),
        (dict(fail_attempts=(3, 1)), "0 <= low <= high"),
    ],
)
def test_the_library_refuses_the_same_options_as_the_command_line(fields, says):
    with pytest.raises(ValueError, match=says):
        Options(**fields)


# --- Hostile input to the producer: any text for any option ---------------------------

OPTIONS = [
    "--count",
    "--rate",
    "--poison-share",
    "--fail-share",
    "--fail-attempts",
    "--sleep-ms",
    "--slow-share",
    "--slow-ms",
    "--groups",
    "--run-id",
]
WORKER_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"


@hypothesis_settings(max_examples=300, deadline=None)
@given(option=st.sampled_from(OPTIONS), value=st.text(max_size=40))
def test_any_option_value_is_either_taken_or_refused_with_a_line(option, value):
    import contextlib
    import io
    import re

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = options([option, value])
    except SystemExit as refused:
        assert refused.code == 2
        assert f"python -m producer: error: argument {option}" in stderr.getvalue()
        return
    # Taken: the orders it makes are JSON with an id the worker's schema accepts.
    for index in range(3):
        kind, order_id, body = make_order(args.run_id or "run", index, args)
        assert json.loads(body)["orderId"] == order_id
        assert re.fullmatch(WORKER_ID_PATTERN, order_id)
