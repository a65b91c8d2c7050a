"""Events that tests use to interrupt a run at a chosen point (tests wait for events, never for clocks)."""
import threading


class CancelAfter(threading.Event):
    """An event that reads as set from its `calls`-th check on: interrupts a run at a chosen point."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0 or super().is_set()
