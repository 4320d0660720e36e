"""``noiseme``: CMU's noiseme annotations of web-video soundtracks (42 noisemes).

Not downloadable; sedbench reads a hand-placed copy in the layout described in
``sedbench.datasets._manual`` (labels.txt holds the noiseme classes used, all 42 or a
merged subset; audio/<part>/ any grouping of the soundtracks).
"""

from __future__ import annotations

from sedbench.core.data import LabelKind, Task
from sedbench.core.registry import register_dataset
from sedbench.papers.citations import BURGER2012

from ._manual import ManualLayoutDataset, manual_text


@register_dataset("noiseme")
class Noiseme(ManualLayoutDataset):
    name = "noiseme"
    description = "CMU noiseme annotations of web-video audio (labels.txt), 1 fold; placed by hand"
    paper = BURGER2012
    license = "audio: the source videos' terms (TRECVID MED / web video); annotations: on request from CMU LTI"
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    folds = ("1",)
    sample_rate = None
    manual_setup = manual_text(
        "The noiseme corpus",
        "the annotations are available from CMU's Language Technologies Institute on request and the audio "
        "comes from the annotated web videos.",
        folds,
    )
