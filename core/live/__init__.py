"""Live: explain a camera, a stream or a file played at its own speed, as it happens.

``sources`` (frames in, newest first: a slot, not a queue) -> ``ring`` (the model's clip at its
own rate) -> ``session`` (a worker explains the newest clip every stride; stale clips are
dropped, never queued; smoothed classes and their history) -> ``draw`` (the newest frame with
the newest heatmap). ``run`` is ``python -m core live``; the app's Live tab is ``demo/live_tab.py``.
"""

from .draw import live_view, status_line
from .ring import ClipRing
from .session import LiveSession, Update
from .sources import Frames, live_frames

__all__ = ["ClipRing", "Frames", "LiveSession", "Update", "live_frames", "live_view", "status_line"]
