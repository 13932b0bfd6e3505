"""IS-Diff dynamic selective refinement (arXiv 2509.11638, §III-C; docs/derivations.md §4).

    t_s ← first level; best ← none
    for n = 1 … N_max:
        x_init = k⊙y + u⊙s,  s ~ GMM (fresh draw)          # primary seed
        x = forward-noise(x_init, σ_{t_s})                    # eq. (7)
        run the base sampler from t_s down to the checkpoint t_c; x̂0 = its last prediction
        d = DCE(x̂0)  (decoded to RGB for latent models)
        keep the lowest-DCE state; stop if d ≤ τ
        t_s ← t_s + δ levels                                   # less noise, more seed
    continue the base sampler from the best state to σ = 0

A selection over restarts, no gradients. The pieces that touch a model are passed in as callables,
so this loop is the same for every model family and base sampler:

* ``start(n, level)`` -- the noised seed of attempt ``n`` at ``level`` (fresh GMM draw and noise);
* ``run(x, level_from, level_to, n)`` -- the base sampler over that part of the schedule; returns
  ``(x, last x̂0)``;
* ``score(x0)`` -- the DCE (KL form) of a prediction, one value per batch item.

Selection is per batch item: each item keeps its own lowest-DCE state; the loop stops once every
item is at or below τ.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass
class Attempt:
    start_level: int
    scores: list[float]  # one per batch item


@dataclass
class RefinementResult:
    x: torch.Tensor
    best: list[int]  # per item: the attempt kept
    attempts: list[Attempt] = field(default_factory=list)
    threshold: float = float("inf")


def auto_threshold(known_vs_ring: float, floor: float = 0.02, factor: float = 1.5) -> float:
    """τ for 'auto': the hole may differ from the known region ``factor``× as much as the ring of known
    pixels around the hole does (natural local variation), and never less than ``floor``."""
    return max(floor, factor * known_vs_ring)


def dynamic_selective_refinement(start: Callable[[int, int], torch.Tensor],
                                 run: Callable[[torch.Tensor, int, int, int], tuple[torch.Tensor, torch.Tensor]],
                                 score: Callable[[torch.Tensor], torch.Tensor], levels: int, checkpoint: int,
                                 attempts: int = 3, delta: int = 1, threshold: float = 0.1,
                                 report: Callable[[list[Attempt], list[int] | None], None] | None = None
                                 ) -> RefinementResult:
    """Run IS-Diff's loop over a schedule of ``levels`` steps; ``checkpoint`` is a level index in (0, levels)."""
    if not 0 < checkpoint < levels:
        raise ValueError(f"checkpoint must lie inside the schedule (1..{levels - 1}), got {checkpoint}")
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    history: list[Attempt] = []
    best_x = best_d = best_n = None
    for n in range(attempts):
        level = min(n * delta, checkpoint - 1)
        x, x0 = run(start(n, level), level, checkpoint, n)
        d = torch.as_tensor(score(x0), dtype=torch.float64).reshape(-1).cpu()
        history.append(Attempt(level, d.tolist()))
        if best_x is None:
            best_x, best_d, best_n = x.clone(), d.clone(), torch.zeros_like(d, dtype=torch.long)
        else:
            better = d < best_d
            sel = better.to(x.device).view(-1, *([1] * (x.ndim - 1)))
            best_x = torch.where(sel, x, best_x)
            best_d = torch.where(better, d, best_d)
            best_n = torch.where(better, torch.full_like(best_n, n), best_n)
        if report is not None:
            report(history, None)
        if bool((best_d <= threshold).all()):
            break
    if report is not None:
        report(history, best_n.tolist())
    x, _ = run(best_x, checkpoint, levels, int(best_n.max()))
    return RefinementResult(x, best_n.tolist(), history, threshold)
