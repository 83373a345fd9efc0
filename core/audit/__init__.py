"""Audit a labelled data set: where the model looks, class by class, and which classes lean on a shortcut.

``python -m core audit DATA --out DIR`` explains every video for its labelled class
(:mod:`.evidence`), screens each class's evidence for a fixed, concentrated region off what
moves, and tests each suspicious region causally: pasted into other classes' clips, does it make
the class; covered in the class's own, is the class lost? (:mod:`.shortcuts`). It writes
``audit.json`` and an offline ``report.html`` (:mod:`.report`).
"""

from .inputs import Item, read_items
from .run import audit, audit_records, judge
from .shortcuts import causal_test, class_evidence, removal_test

__all__ = ["Item", "audit", "audit_records", "causal_test", "class_evidence", "judge", "read_items", "removal_test"]
