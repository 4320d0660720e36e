"""``itc-irst``: the ITC-irst (now FBK) acoustic event detection database of isolated meeting-room events.

Not downloadable; sedbench reads a hand-placed copy in the layout described in
``sedbench.datasets._manual`` (labels.txt holds the database's event classes;
audio/<session>/ one folder per recording session).
"""

from __future__ import annotations

from sedbench.core.data import LabelKind, Task
from sedbench.core.registry import register_dataset
from sedbench.papers.citations import ZIEGER2005

from ._manual import ManualLayoutDataset, manual_text


@register_dataset("itc-irst")
class ItcIrst(ManualLayoutDataset):
    name = "itc-irst"
    description = "ITC-irst AED database: isolated meeting-room events (labels.txt), 1 fold; placed by hand"
    paper = ZIEGER2005
    license = "distributed by FBK (formerly ITC-irst) on request; not redistributable"
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    folds = ("1",)
    sample_rate = None
    manual_setup = manual_text(
        "The ITC-irst AED database",
        "request it from FBK's SHINE unit (formerly ITC-irst, shine.fbk.eu).",
        folds,
    )
