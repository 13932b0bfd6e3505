"""An analytic pixel-space demo model: a stationary Gaussian image prior with its exact denoiser.

Natural images have an approximately power-law spectrum (Field 1987; van der Schaaf & van Hateren
1996: power ∝ 1/f^α with α ≈ 2). This prior is

    x = mu + Q y,   y_c  independent stationary Gaussian fields with
    S_c(f) = amp_c · (|f|² + f0_c²)^(−α_c / 2)        (f in cycles per pixel)

over images in [-1, 1] (ComfyUI's pixel-space latent), with ``Q`` an orthonormal colour basis (the
principal axes of natural-photo colour). Its exact VE denoiser is the Wiener filter

    D(x, σ) = mu + Q · F⁻¹[ S / (S + σ²) · F(Qᵀ(x − mu)) ]

computed by FFT on a mirror-extended canvas (so the left edge is not treated as the right edge's
neighbour). It knows colour and smoothness, nothing else: fills are smooth, colour-consistent and
exactly what a Gaussian prior implies. The trained demo network replaces it for texture.
"""
from __future__ import annotations

import math

import torch

PARAM_NAMES = ("mu", "Q", "amp", "alpha", "f0")


class StationaryGaussianDenoiser(torch.nn.Module):
    """``forward(x [B, 3, H, W], sigma [B]) -> E[x0 | x]`` for the stationary Gaussian prior."""

    def __init__(self, mu: torch.Tensor, Q: torch.Tensor, amp: torch.Tensor, alpha: torch.Tensor, f0: torch.Tensor):
        super().__init__()
        self.register_buffer("mu", mu.reshape(3).float())
        self.register_buffer("Q", Q.reshape(3, 3).float())
        self.register_buffer("amp", amp.reshape(3).float())
        self.register_buffer("alpha", alpha.reshape(3).float())
        self.register_buffer("f0", f0.reshape(3).float())

    @classmethod
    def from_state_dict(cls, sd: dict) -> "StationaryGaussianDenoiser":
        missing = [k for k in PARAM_NAMES if k not in sd]
        if missing:
            raise ValueError(f"stationary Gaussian weights lack {missing}")
        return cls(*(sd[k] for k in PARAM_NAMES))

    def spectrum(self, h: int, w: int, device=None) -> torch.Tensor:
        """``S_c(f)`` on an ``h × w`` FFT grid: ``[3, h, w]``."""
        fy = torch.fft.fftfreq(h, device=device)[:, None]
        fx = torch.fft.fftfreq(w, device=device)[None, :]
        f2 = (fy**2 + fx**2)[None]
        return self.amp[:, None, None] * (f2 + self.f0[:, None, None] ** 2) ** (-self.alpha[:, None, None] / 2)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if c != 3:
            raise ValueError(f"the stationary Gaussian demo model is RGB (3 channels), got {c}")
        s2 = sigma.to(torch.float32).reshape(-1, 1, 1, 1).expand(b, 1, 1, 1) ** 2
        mu = self.mu.view(1, 3, 1, 1)
        y = torch.einsum("ji,bjhw->bihw", self.Q, x.float() - mu)  # Qᵀ(x − mu)
        # mirror extension: [x | flip(x)] in both directions, periodic on 2h × 2w
        y = torch.cat([y, y.flip(-1)], -1)
        y = torch.cat([y, y.flip(-2)], -2)
        spec = self.spectrum(2 * h, 2 * w, device=x.device)[None]
        gain = torch.where(torch.isinf(spec), torch.ones_like(spec), spec / (spec + s2))
        y = torch.fft.irfft2(torch.fft.rfft2(y) * gain[..., : w + 1], s=(2 * h, 2 * w))[..., :h, :w]
        return (torch.einsum("ij,bjhw->bihw", self.Q, y) + mu).to(x.dtype)


def fit_stationary_gaussian(images: list[torch.Tensor], crop: int = 64, crops_per_image: int = 64,
                            seed: int = 0) -> dict[str, torch.Tensor]:
    """Fit ``mu, Q, amp, alpha, f0`` to RGB photos ``[3, H, W]`` in [-1, 1] (seeded).

    Colour: mean and PCA of all pixels. Spectrum: Hann-windowed periodograms of random crops in
    the decorrelated channels, radially binned, then a least-squares fit of
    ``log S = log amp − (α/2) log(f² + f0²)`` with ``f0`` on a grid; finally ``amp`` is scaled so the
    per-pixel variance equals the measured one.
    """
    g = torch.Generator().manual_seed(seed)
    pix = torch.cat([im.reshape(3, -1) for im in images], 1).double()
    mu = pix.mean(1)
    cov = torch.cov(pix)
    lam, Q = torch.linalg.eigh(cov)
    Q = Q[:, lam.argsort(descending=True)]
    Q = Q * torch.sign(Q.sum(0, keepdim=True) + 1e-12)  # deterministic signs
    win = torch.hann_window(crop, periodic=False, dtype=torch.float64)
    win2 = win[:, None] * win[None, :]
    power = torch.zeros(3, crop, crop, dtype=torch.float64)
    n = 0
    for im in images:
        y = torch.einsum("ji,jhw->ihw", Q, im.double() - mu[:, None, None])
        _, h, w = y.shape
        if h < crop or w < crop:
            continue
        for _ in range(crops_per_image):
            i = int(torch.randint(0, h - crop + 1, (1,), generator=g))
            j = int(torch.randint(0, w - crop + 1, (1,), generator=g))
            p = y[:, i:i + crop, j:j + crop]
            p = (p - p.mean((1, 2), keepdim=True)) * win2
            power += torch.fft.fft2(p).abs() ** 2 / win2.pow(2).sum()
            n += 1
    power /= max(n, 1)
    f = torch.sqrt(torch.fft.fftfreq(crop, dtype=torch.float64)[:, None] ** 2
                   + torch.fft.fftfreq(crop, dtype=torch.float64)[None, :] ** 2)
    bins = torch.linspace(1.5 / crop, 0.5, 20, dtype=torch.float64)
    idx = torch.bucketize(f.reshape(-1), bins)
    amp, alpha, f0s = [], [], []
    var = torch.einsum("ji,jk,kl->il", Q, cov, Q).diagonal()
    for c in range(3):
        pc = power[c].reshape(-1)
        fb, pb = [], []
        for b in range(1, len(bins)):
            sel = idx == b
            if sel.any():
                fb.append(f.reshape(-1)[sel].mean())
                pb.append(pc[sel].mean())
        fb, lp = torch.stack(fb), torch.stack(pb).log()
        best = None
        for f0 in torch.logspace(math.log10(1e-3), math.log10(5e-2), 24, dtype=torch.float64):
            xl = torch.log(fb**2 + f0**2)
            a = torch.stack([torch.ones_like(xl), -0.5 * xl], 1)
            sol = torch.linalg.lstsq(a, lp[:, None]).solution[:, 0]
            err = float(((a @ sol - lp) ** 2).sum())
            if best is None or err < best[0]:
                best = (err, sol, f0)
        _, sol, f0 = best
        al = float(sol[1].clamp(0.5, 4.0))
        # scale amplitude so the spectrum's mean over a large grid equals the measured variance
        grid = 256
        fg = (torch.fft.fftfreq(grid, dtype=torch.float64)[:, None] ** 2
              + torch.fft.fftfreq(grid, dtype=torch.float64)[None, :] ** 2)
        shape = (fg + f0**2) ** (-al / 2)
        amp.append(var[c] / shape.mean())
        alpha.append(al)
        f0s.append(float(f0))
    return {"mu": mu.float(), "Q": Q.float(), "amp": torch.stack(amp).float(),
            "alpha": torch.tensor(alpha, dtype=torch.float32), "f0": torch.tensor(f0s, dtype=torch.float32)}
