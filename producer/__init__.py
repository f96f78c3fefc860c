"""The producer CLI: sends orders to the lab's queue."""
