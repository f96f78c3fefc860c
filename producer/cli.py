"""The producer: sends orders to the lab's queue with SendMessageBatch.

    python -m producer --count 50 --rate 20 --poison-share 0.1 --fail-share 0.2

Which orders are poison or fail on purpose is decided by position, not by
chance, so two runs with the same arguments send the same kinds of orders.
Every send that fails is counted and reported with its reason; the exit code
is 0 only when every order was accepted by the queue.
"""

import argparse
import dataclasses
import json
import math
import re
import sys

from botocore.exceptions import ClientError, EndpointConnectionError

from lab.core import settings
from producer.orders import Options, console, send

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3


def id_ranges(order_ids: list[str]) -> str:
    """run-00003..run-00009, run-00012: consecutive ids of a run as ranges."""
    ranges: list[list[str]] = []
    for order_id in order_ids:
        run, _, number = order_id.rpartition("-")
        if (
            ranges
            and ranges[-1][1].rpartition("-")[0] == run
            and int(ranges[-1][1].rpartition("-")[2]) + 1 == int(number)
        ):
            ranges[-1][1] = order_id
        else:
            ranges.append([order_id, order_id])
    return ", ".join(first if first == last else f"{first}..{last}" for first, last in ranges)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m producer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )

    def share(text: str) -> float:
        value = float(text)
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
        return value

    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text} must be at least 1")
        return value

    def non_negative(kind):
        def parse(text: str):
            value = kind(text)
            if not math.isfinite(value) or value < 0:
                raise argparse.ArgumentTypeError(f"{text} must be a number, not negative")
            return value

        return parse

    parser.add_argument("--count", "-n", type=non_negative(int), default=10, help="orders to send (default 10)")
    parser.add_argument(
        "--rate",
        type=non_negative(float),
        default=0,
        help="orders per second; 0 sends as fast as the queue takes them (default)",
    )
    parser.add_argument(
        "--poison-share", type=share, default=0.0, help="share of orders that can never be processed (0..1)"
    )
    parser.add_argument(
        "--fail-share", type=share, default=0.0, help="share of orders that fail their first deliveries (0..1)"
    )

    def attempts(text: str) -> tuple[int, int]:
        low, _, high = text.partition("-")
        try:
            bounds = (int(low), int(high or low))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} is not a number or a range such as 1-2") from None
        if not 0 <= bounds[0] <= bounds[1]:
            raise argparse.ArgumentTypeError(f"{text}: give a number, or a range low-high with 0 <= low <= high")
        return bounds

    parser.add_argument(
        "--fail-attempts",
        type=attempts,
        default=(2, 2),
        help="how many deliveries those orders fail: a number, or a range such as 1-2 "
        "that the orders cycle through (default 2)",
    )
    parser.add_argument("--sleep-ms", type=non_negative(int), default=0, help="make every order this slow to process")
    parser.add_argument("--slow-share", type=share, default=0.0, help="share of orders that are slow (see --slow-ms)")
    parser.add_argument(
        "--slow-ms",
        type=non_negative(int),
        default=500,
        help="how slow the --slow-share orders are to process (default 500)",
    )
    parser.add_argument("--queue", help="queue name (default: the one `make up` created, orders or orders.fifo)")
    parser.add_argument(
        "--groups",
        type=positive,
        default=3,
        help="FIFO queues only: how many message groups (customers) to spread orders over",
    )
    parser.add_argument("--endpoint-url", default=settings.ENDPOINT_URL)

    def run_id(text: str) -> str:
        # Order ids go into S3 keys; the worker accepts [A-Za-z0-9._:-] only.
        if not RUN_ID_PATTERN.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r}: use 1 to 64 letters, digits, '.', '_', ':' or '-'")
        return text

    parser.add_argument("--run-id", type=run_id, help="prefix of the order ids (default: random)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def options(argv) -> Options:
    """The command line's options, as the library's Options."""
    args = vars(parse_args(argv))
    given = {option.name: args[option.name] for option in dataclasses.fields(Options)}
    return Options(**{name: value for name, value in given.items() if not (name == "queue" and value is None)})


def main(argv=None) -> int:
    args, chosen = parse_args(argv), options(argv)
    try:
        summary = send(chosen)
    except EndpointConnectionError:
        console.print(f"[red]producer:[/] cannot reach LocalStack at {args.endpoint_url}: start the lab with `make up`")
        return EXIT_UNREACHABLE
    except ClientError as error:
        if "NonExistentQueue" in error.response["Error"]["Code"]:
            console.print(
                f"[red]producer:[/] queue {chosen.queue!r} does not exist at {args.endpoint_url}: run `make up`"
            )
            return EXIT_UNREACHABLE
        raise
    if args.json:
        print(json.dumps(summary.as_dict()))
    valid = summary.sent - summary.poison - summary.fail_attempts
    low, high = args.fail_attempts
    console.print(
        f"sent {summary.sent} of {summary.requested} orders ({valid} valid, {summary.poison} poison, "
        f"{summary.fail_attempts} failing their first {low if low == high else f'{low}-{high}'} deliveries) "
        f"to {summary.queue_url} in {summary.seconds:.2f} s ({summary.per_second:.0f} msg/s); "
        f"{summary.failed} failed to send"
    )
    for reason, count in summary.failure_reasons.items():
        console.print(f"  [red]{count} not sent:[/] {reason}")
    if summary.unsent_order_ids:
        console.print(f"  [red]not in the queue:[/] {id_ranges(summary.unsent_order_ids)}")
    if summary.unconfirmed_order_ids:
        console.print(f"  [yellow]unconfirmed (may be in the queue):[/] {id_ranges(summary.unconfirmed_order_ids)}")
    return EXIT_SOME_FAILED if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
