"""Whether the server is answering: the Train tab counts a run as unwatched only while it is, so a flood (of the
model's queue, of uploads, of anything that keeps the server's event loop busy) cannot get other visitors' runs
removed as abandoned because their status polls could not get through."""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

BEAT_S = 0.5  # the event loop's heartbeat
LATE_S = 2.0  # a heartbeat this late means the loop is not answering in time


@dataclass
class ServerHealth:
    """A heartbeat on the server's event loop, and Gradio's queue's fill; `busy()` is read from other threads."""

    clock: object = time.monotonic
    queue_size: object = lambda: 0  # → (waiting, capacity); see `gradio_queue`
    last_beat: float | None = None

    async def beat(self) -> None:
        """Runs on the server's loop for as long as it serves."""
        while True:
            self.last_beat = self.clock()
            await asyncio.sleep(BEAT_S)

    def busy(self) -> bool:
        """The loop's heartbeat is late, or the queue is at least half full."""
        late = self.last_beat is not None and self.clock() - self.last_beat > LATE_S
        try:
            waiting, capacity = self.queue_size()
        except RuntimeError:  # Gradio's queue changed while it was counted: busy enough
            return True
        return late or bool(capacity and waiting >= capacity // 2)

    def lifespan(self):
        """A FastAPI lifespan that keeps the heartbeat going while the app runs (Gradio wraps it in its own)."""
        @contextlib.asynccontextmanager
        async def running(app):
            task = asyncio.create_task(self.beat())
            try:
                yield
            finally:
                task.cancel()
        return running


def gradio_queue(demo):
    """(events waiting in Gradio's queue, its capacity) for `ServerHealth.queue_size`."""
    def size() -> tuple[int, int]:
        queue = getattr(demo, "_queue", None)
        return (len(queue), queue.max_size or 0) if queue is not None else (0, 0)
    return size
