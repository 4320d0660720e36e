"""``noiseme``: CMU's noiseme annotations of web-video soundtracks (42 noisemes).

Not downloadable; sedbench reads a hand-placed copy in the layout described in
``sedbench.datasets._manual`` (labels.txt holds the noiseme classes used, all 42 or a
merged subset; audio/<part>/ any grouping of the soundtracks).
"""

from __future__ import annotations

from sedbench.core.data import LabelKind, Paper
from sedbench.core.registry import register_dataset

from ._manual import ManualLayoutDataset, manual_text

BURGER2012 = Paper(
    key="burger2012",
    citation=(
        "S. Burger, Q. Jin, P. F. Schulam, F. Metze, \"Noisemes: Manual Annotation of Environmental Noise in "
        "Audio Streams\", Carnegie Mellon University technical report CMU-LTI-12-017, 2012"
    ),
    # the report has no DOI; this is a catalogue search for it in CMU's repository
    url="https://kilthub.cmu.edu/search?q=Noisemes%20manual%20annotation%20of%20environmental%20noise",
)


@register_dataset("noiseme")
class Noiseme(ManualLayoutDataset):
    name = "noiseme"
    description = "CMU noiseme annotations of web-video audio (labels.txt), 1 fold; placed by hand"
    paper = BURGER2012
    license = "audio: the source videos' terms (TRECVID MED / web video); annotations: on request from CMU LTI"
    task = "strong events"
    label_kind = LabelKind.STRONG
    folds = ("1",)
    sample_rate = None
    manual_setup = manual_text(
        "The noiseme corpus",
        "the annotations are available from CMU's Language Technologies Institute on request and the audio "
        "comes from the annotated web videos.",
        folds,
    )
