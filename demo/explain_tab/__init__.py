"""The Explain tab: one clip classified and explained, another class, the top-5, "A rather than
B", the trust checks, and the model and settings that every tab uses.

``layout`` (layout.py) lays it out; ``wire`` (events.py) connects its events to its handlers:
clip.py (one clip), trust.py (the trust panel), model_box.py (the model and method choice);
api.py holds its API endpoints as clients call them.
"""

from .events import Stoppable, wire
from .layout import layout

__all__ = ["Stoppable", "layout", "wire"]
