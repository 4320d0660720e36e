"""``tut2009``: TUT-SED 2009, real-life recordings from 10 contexts with 61 event classes (not downloadable).

Used by Cakir et al. 2017 (5 folds). The corpus is proprietary to Tampere University
and its label list was never published, so sedbench reads a hand-placed copy in the
layout described in ``sedbench.datasets._manual`` (labels.txt holds the 61 labels;
audio/<context>/ one folder per context: basketball, beach, bus, car, hallway, office,
restaurant, shop, street, stadium).
"""

from __future__ import annotations

from sedbench.core.data import LabelKind, Paper
from sedbench.core.registry import register_dataset

from ._manual import ManualLayoutDataset, manual_text

MESAROS2010 = Paper(
    key="mesaros2010",
    citation=(
        "A. Mesaros, T. Heittola, A. Eronen, T. Virtanen, \"Acoustic Event Detection in Real Life Recordings\", "
        "EUSIPCO 2010; also T. Heittola, A. Mesaros, A. Eronen, T. Virtanen, \"Context-dependent sound event "
        "detection\", EURASIP JASMP 2013:1 (TUT-SED 2009: 103 recordings, 10 contexts, 61 classes)"
    ),
    url="https://doi.org/10.1186/1687-4722-2013-1",
)


@register_dataset("tut2009")
class Tut2009(ManualLayoutDataset):
    name = "tut2009"
    description = "TUT-SED 2009: 10 real-life contexts, 61 classes (labels.txt), 5 folds; placed by hand"
    paper = MESAROS2010
    license = "proprietary (Tampere University); not redistributable"
    task = "strong events"
    label_kind = LabelKind.STRONG
    folds = ("1", "2", "3", "4", "5")
    sample_rate = None  # whatever the placed copy has; the original recordings are 44.1 kHz binaural
    manual_setup = manual_text(
        "TUT-SED 2009 (proprietary)",
        "ask the Audio Research Group of Tampere University (arg.cs.tut.fi) for a copy.",
        folds,
    )
