"""One seeding scheme for every random draw of the pack.

ComfyUI seeds take any value in ``0 … 2⁶⁴ − 1``. Adding offsets to a seed (``seed + 1``, ``seed + 7919·n``)
overflows the generator's range at the top of that interval and makes streams of neighbouring seeds
overlap, so every derived stream here is named instead: :func:`derive_seed` hashes the user's seed
with labels (a purpose and indices) into a new 64-bit seed. Streams follow ComfyUI's
``noise_sampler(sigma, sigma_next) -> Tensor`` convention (``comfy.k_diffusion.sampling``), so a
core that takes a noise sampler can equally be given one of ComfyUI's own (e.g. Brownian).
"""
from __future__ import annotations

import hashlib
from typing import Callable

import torch

SEED_MAX = 2**64 - 1
NoiseSampler = Callable[[object, object], torch.Tensor]


def derive_seed(seed: int, *labels) -> int:
    """A 64-bit seed for the stream ``labels`` of ``seed`` (any int; reduced mod 2⁶⁴ first)."""
    key = f"{int(seed) & SEED_MAX}|" + "|".join(str(v) for v in labels)
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def generator(seed: int, *labels) -> torch.Generator:
    """A CPU generator for the stream ``labels`` of ``seed`` (CPU, so a seed gives the same draws on any device)."""
    return torch.Generator().manual_seed(derive_seed(seed, *labels))


def randn(shape, gen: torch.Generator, like: torch.Tensor | None = None, dtype=None, device=None) -> torch.Tensor:
    """Standard normal draws from ``gen`` (on CPU), moved to ``like``'s (or the given) dtype and device."""
    dtype = dtype or (like.dtype if like is not None else torch.float32)
    device = device or (like.device if like is not None else "cpu")
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float32).to(device=device, dtype=dtype)


def noise_sampler(like: torch.Tensor, seed: int, *labels) -> NoiseSampler:
    """``noise_sampler(sigma, sigma_next)``: successive N(0, I) draws shaped like ``like`` from one named stream."""
    gen = generator(seed, *labels)
    shape = like.shape

    def sample(sigma=None, sigma_next=None) -> torch.Tensor:
        return randn(shape, gen, like)

    return sample
