"""The Inpaint KSampler's named presets (``method``): RePaint+ settings with their cost.

Pure data, shared by the node (``nodes/ksampler.py``), ``make demo`` and the bench. Each preset is the
RePaint+ Sampler's options (``None``: ComfyUI's core inpainting). Released names never change; new
presets are added at the end.

Why these (``make bench-presets``, ``make bench-posterior``; docs/repaint-plus.md "Presets" and "Why the
rounds reach the exact posterior"): one round at every step, solved by minimal residual (Krylov) from a
warm start, is the closest to the exact posterior per model call (on the exact priors at 40 NFE it sits
where 30 fixed-κ rounds per step sit) with the demo model's seam unchanged; a second round per step (3
calls per step) was *less* harmonious on the demo model and moved the exact-prior distances by less than
their standard errors, so no 3-call preset ships: for more quality, raise ``steps``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .repaint_plus import count_evaluations


@dataclass(frozen=True)
class Preset:
    label: str
    calls_per_step: str
    options: dict | None

    def evaluations(self, steps: int) -> int:
        """Model evaluations around a first-order sampler (euler) over ``steps`` steps (flow models skip
        the rounds at σ = 1, one level fewer)."""
        if self.options is None:
            return steps
        return count_evaluations(steps, self.options["jump_length"], self.options["resamples"])


PRESETS: dict[str, Preset] = {
    "balanced": Preset("RePaint+ B, one Krylov round at every step, warm start", "2",
                       dict(mode="repaint_plus_b", jump_length=1, resamples=1, kappa_mode="capped", kappa_cap=4.0,
                            solver="krylov", warm_start=True)),
    "fast": Preset("RePaint+ B, one Krylov round at every second step, warm start", "1.5",
                   dict(mode="repaint_plus_b", jump_length=2, resamples=1, kappa_mode="capped", kappa_cap=4.0,
                        solver="krylov", warm_start=True)),
    "core": Preset("ComfyUI's own inpainting (the known region replaced every step), for comparison", "1", None),
}
