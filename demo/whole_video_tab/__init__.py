"""The Whole video tab: a class timeline over a long video, its heatmap video for any class, and
any moment explained on the Explain tab.

``layout`` and ``wire`` (events.py, with the handlers); view.py scans and draws.
"""

from .events import layout, wire

__all__ = ["layout", "wire"]
