"""The trained demo model: a small fully-convolutional pixel-space UNet with EDM preconditioning.

Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models" (EDM),
Table 1 preconditioning with σ_data = 0.5:

    D(x, σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ))
    c_skip = σ_d² / (σ² + σ_d²),  c_out = σ·σ_d / sqrt(σ² + σ_d²),  c_in = 1 / sqrt(σ² + σ_d²),  c_noise = ln(σ) / 4

F is a three-level UNet (widths base·(1, 2, 2)), one residual block per level, two in the middle,
GroupNorm + SiLU, a Fourier embedding of c_noise that scales and shifts every block, no attention,
so it runs at any image size (inputs are reflect-padded to a multiple of 4 and cropped back).
Images are RGB in [-1, 1] (ComfyUI's pixel-space latent).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SIGMA_DATA = 0.5


class FourierEmbedding(nn.Module):
    def __init__(self, channels: int, scale: float = 16.0):
        super().__init__()
        self.register_buffer("freqs", torch.randn(channels // 2, generator=torch.Generator().manual_seed(0)) * scale)

    def forward(self, x):
        x = x.float()[:, None] * (2 * math.pi * self.freqs[None])
        return torch.cat([x.cos(), x.sin()], 1)


def _gn(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(16, c // 4), c)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int):
        super().__init__()
        self.norm1, self.conv1 = _gn(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2, self.conv2 = _gn(cout), nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(e)[:, :, None, None].chunk(2, 1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        return self.skip(x) + self.conv2(h)


class DemoUNet(nn.Module):
    """F(x, c_noise): the raw network."""

    def __init__(self, base: int = 48, mults=(1, 2, 2), channels: int = 3):
        super().__init__()
        emb = 4 * base
        self.config = {"base": base, "mults": list(mults), "channels": channels}
        self.embed = nn.Sequential(FourierEmbedding(base), nn.Linear(base, emb), nn.SiLU(), nn.Linear(emb, emb))
        widths = [base * m for m in mults]
        self.conv_in = nn.Conv2d(channels, base, 3, padding=1)
        self.down, self.pool = nn.ModuleList(), len(widths) - 1
        c = base
        for w in widths:
            self.down.append(ResBlock(c, w, emb))
            c = w
        self.mid = nn.ModuleList([ResBlock(c, c, emb), ResBlock(c, c, emb)])
        self.up = nn.ModuleList()
        for w in reversed(widths):
            self.up.append(ResBlock(c + w, w, emb))
            c = w
        self.norm_out, self.conv_out = _gn(c), nn.Conv2d(c, channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, c_noise):
        e = self.embed(c_noise)
        h = self.conv_in(x)
        skips = []
        for i, blk in enumerate(self.down):
            h = blk(h, e)
            skips.append(h)
            if i < self.pool:
                h = F.avg_pool2d(h, 2)
        for blk in self.mid:
            h = blk(h, e)
        for i, blk in enumerate(self.up):
            if i > 0:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = blk(torch.cat([h, skips.pop()], 1), e)
        return self.conv_out(F.silu(self.norm_out(h)))


class EDMDenoiser(nn.Module):
    """``forward(x [B, 3, H, W], sigma [B]) -> D(x, σ)`` with EDM preconditioning (any H, W)."""

    def __init__(self, net: DemoUNet, sigma_data: float = SIGMA_DATA):
        super().__init__()
        self.net, self.sigma_data = net, sigma_data
        self.multiple = 2 ** net.pool

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        s = sigma.to(torch.float32).reshape(-1)
        s = s.expand(b) if s.numel() == 1 else s
        sd = self.sigma_data
        s4 = s.view(-1, 1, 1, 1)
        c_skip = sd**2 / (s4**2 + sd**2)
        c_out = s4 * sd / (s4**2 + sd**2).sqrt()
        c_in = 1 / (s4**2 + sd**2).sqrt()
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        xin = (c_in * x.float())
        if ph or pw:
            xin = F.pad(xin, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        f = self.net(xin, s.clamp_min(1e-20).log() / 4)[..., :h, :w]
        return (c_skip * x.float() + c_out * f).to(x.dtype)


def build_denoiser(state_dict: dict, config: dict) -> EDMDenoiser:
    net = DemoUNet(base=int(config["base"]), mults=tuple(config["mults"]), channels=int(config["channels"]))
    net.load_state_dict(state_dict)
    return EDMDenoiser(net.eval().requires_grad_(False))
