"""``tut2009``: TUT-SED 2009, real-life recordings from 10 contexts with 61 event classes (not downloadable).

Used by Cakir et al. 2017 (5 folds). The corpus is proprietary to Tampere University
and its label list was never published, so sedbench reads a hand-placed copy in the
layout described in ``sedbench.datasets._manual`` (labels.txt holds the 61 labels;
audio/<context>/ one folder per context: basketball, beach, bus, car, hallway, office,
restaurant, shop, street, stadium).
"""

from __future__ import annotations

from sedbench.core.data import LabelKind, Task
from sedbench.core.registry import register_dataset
from sedbench.papers.citations import MESAROS2010

from ._manual import ManualLayoutDataset, manual_text


@register_dataset("tut2009")
class Tut2009(ManualLayoutDataset):
    name = "tut2009"
    description = "TUT-SED 2009: 10 real-life contexts, 61 classes (labels.txt), 5 folds; placed by hand"
    paper = MESAROS2010
    license = "proprietary (Tampere University); not redistributable"
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    folds = ("1", "2", "3", "4", "5")
    sample_rate = None  # whatever the placed copy has; the original recordings are 44.1 kHz binaural
    manual_setup = manual_text(
        "TUT-SED 2009 (proprietary)",
        "ask the Audio Research Group of Tampere University (arg.cs.tut.fi) for a copy.",
        folds,
    )
