"""Where and when in a long video: a class timeline over the whole clip, any moment explained.

:func:`timeline` (``core.timeline``) slides the model's own clip over the whole video in one
streamed decode and scores and explains every window (:mod:`.scan`, on the grid and windows of
:mod:`.plan`); :func:`write_timeline` writes ``timeline.json``, ``timeline.csv``,
``timeline.png`` and ``heatmap_full.mp4`` (:mod:`.output`), whose heatmap follows each moment's
top class unless a class is pinned (:mod:`.moments`); :func:`heatmap_video` draws it again for
another class from the spooled frames; :mod:`.shard` splits a list of videos over ``torchrun``
ranks; :mod:`.run` is ``python -m core timeline``.

>>> import core
>>> from core.longvideo import FrameSpool, write_timeline
>>> with FrameSpool() as frames:                       # the frames for the heatmap video, on disk
...     result = core.timeline(core.load_model(), "long.mp4", on_frame=frames)
...     write_timeline(result, "out/", spool=frames)
"""

from .._lazy import lazy_names

# name -> its module, loaded on first use: `python -m core explain` builds the `timeline`
# subcommand's arguments (.run) without loading the scan, the writers or torch.distributed
_WHERE = {
    "DEFAULT_MAX_DURATION": "plan", "FrameSpool": "output", "Mode": "moments",
    "Plan": "plan", "Shown": "moments", "TimelineResult": "scan", "heatmap_video": "output",
    "plan_windows": "plan", "shown": "moments", "timeline": "scan", "write_timeline": "output",
}
__getattr__, __dir__ = lazy_names(__name__, _WHERE)

__all__ = ["DEFAULT_MAX_DURATION", "FrameSpool", "Mode", "Plan", "Shown", "TimelineResult", "heatmap_video",
           "plan_windows", "shown", "timeline", "write_timeline"]
