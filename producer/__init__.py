"""The producer: sends orders to the lab's queue. ``python -m producer --help``,
or as a library: ``from producer import Options, send``."""

from producer.orders import Options, Summary, make_order, send, share_picks

__all__ = ["Options", "Summary", "make_order", "send", "share_picks"]
