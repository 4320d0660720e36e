"""Event boundaries as tokens: the output alphabet of CTC systems (Wang & Metze 2017, Sec. 2.1).

A clip's annotation becomes the time-ordered sequence of its event boundaries, each
token being (label, ``"onset"`` | ``"offset"``). Decoded token sequences are scored with
the token error rate (``sedbench.scoring.metrics.token_error_rate``) and can be paired back into
events so that sed_eval's event metrics apply as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .data import Event

ONSET, OFFSET = "onset", "offset"
KINDS = (ONSET, OFFSET)


@dataclass(frozen=True, order=True)
class TimedToken:
    """A decoded boundary token and the time (s) of the frame that emitted it."""

    time: float
    label: str
    kind: str  # ONSET | OFFSET

    @property
    def token(self) -> tuple[str, str]:
        return (self.label, self.kind)


def boundary_tokens(events: list[Event], labels: list[str] | tuple[str, ...], start: float = 0.0,
                    stop: float = math.inf) -> list[tuple[str, str]]:
    """The reference token sequence: every onset and offset ordered by time (those in [start, stop) if given).

    Ties are broken so the sequence is well defined: at equal times offsets come before onsets (an event that
    ends where another begins is closed first), then classes in label-list order.
    """
    order = {label: i for i, label in enumerate(labels)}
    boundaries = []
    for event in events:
        boundaries.append((event.onset, 1, order[event.label], event.label, ONSET))
        boundaries.append((event.offset, 0, order[event.label], event.label, OFFSET))
    return [(label, kind) for time, *_, label, kind in sorted(boundaries) if start <= time < stop]


def token_vocabulary(labels: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """The 2n non-blank tokens in CTC output order: onset and offset of each class, classes in label order."""
    return [(label, kind) for label in labels for kind in KINDS]


def tokens_to_events(tokens: list[TimedToken], duration: float) -> list[Event]:
    """Pair decoded onset and offset tokens of each class into events.

    Per class, in time order: an onset opens an event (a second onset while one is open is ignored, the first
    one stands); an offset closes the open event. An offset with nothing open is dropped, and an event still open
    at the end of the clip lasts until the clip's end, so every decoded onset yields an event.
    """
    events = []
    open_onsets: dict[str, float] = {}
    for token in sorted(tokens, key=lambda t: (t.time, t.kind != OFFSET)):
        if token.kind == ONSET:
            open_onsets.setdefault(token.label, token.time)
        elif token.label in open_onsets:
            events.append(Event(open_onsets.pop(token.label), token.time, token.label))
    for label, onset in open_onsets.items():
        events.append(Event(onset, max(onset, duration), label))
    return sorted(events)
