"""Audit a labelled data set: where the model looks, class by class, and which classes lean on a shortcut.

``python -m core audit DATA --out DIR`` explains every video for its labelled class
(:mod:`.evidence`), screens each class's evidence for a fixed, concentrated region off what
moves, and tests each suspicious region causally by pasting it into other classes' clips
(:mod:`.shortcuts`); it writes ``audit.json`` and an offline ``report.html`` (:mod:`.report`).
"""

from .inputs import Item, read_items
from .run import audit, audit_records, judge
from .shortcuts import causal_test, class_evidence

__all__ = ["Item", "audit", "audit_records", "causal_test", "class_evidence", "judge", "read_items"]
