"""The pitch-shift robustness study of Cakir et al. 2017 (Fig. 5): F1_frm on test audio shifted by a number of
quartertones (24 bins per octave), and its absolute change from the unshifted score.

``sedbench run --pitch-shift=-2,-1,1,2`` adds it to a job; the shifted features are cached like any others.
"""

from __future__ import annotations

from dataclasses import dataclass

from sedbench.core.errors import ConfigError
from sedbench.pipeline.studies import StudyContext

UNIT = "quartertones (24 bins per octave)"


@dataclass(frozen=True)
class PitchShiftStudy:
    shifts: tuple[float, ...]  # quartertones
    name: str = "pitch_shift"

    def run(self, context: StudyContext) -> dict:
        base = context.headline.get("F1_frm")
        shifts = {}
        for shift in self.shifts:
            raw = {c.clip_id: context.cache.get(c, context.spec, pitch_shift=shift) for c in context.clips}
            headline = context.evaluate(raw)
            value = headline.get("F1_frm")
            shifts[f"{shift:+g}"] = {
                "F1_frm": value,
                "abs_change_F1_frm": abs(value - base) if value is not None and base is not None else None,
                "headline": headline,
            }
        return {"unit": UNIT, "shifts": shifts}


def parse_shifts(text: str) -> tuple[float, ...]:
    """``-2,-1,1,2`` -> (-2.0, -1.0, 1.0, 2.0); ConfigError for anything that is not a number."""
    try:
        return tuple(float(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"--pitch-shift expects comma-separated numbers of quartertones, got {text!r}") from None
