"""Latent-space tools on a loaded noise `Generator`: style-mixing grids, latent walks (GIF
frames) and the projection of a real image into W. Mixing and projection need a style-based
generator (a net with a mapping network: `supports_truncation`); walks work for any noise-to-
image generator (StyleGAN walks in W, whose straight lines the mapping net made smooth; the
others walk on great circles of z, where Gaussian latents live).

Everything here is deterministic given its seeds (eval-mode nets: fixed noise inputs).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..io.errors import GanforgeError
from ..io.images import grid, to_uint8


def is_style(gen) -> bool:
    return bool(getattr(gen.net, "supports_truncation", False))


def require_style(gen, what: str) -> None:
    if not is_style(gen):
        raise GanforgeError(f"{what} needs a stylegan run, but this is a '{gen.info.get('family')}' model "
                            f"(no mapping network); train one with --model stylegan")


def require_images(gen, what: str) -> None:
    if gen.data["kind"] != "images":
        raise GanforgeError(f"{what} needs an image model, but this run makes {gen.data['kind']}")


def parse_seeds(text: str, option: str) -> list[int]:
    """'1,2,7-9' -> [1, 2, 7, 8, 9]; a mistake is one line naming the option."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            a, _, b = part.strip().partition("-")
            seeds += list(range(int(a), int(b) + 1)) if b else [int(a)]
    except ValueError:
        raise GanforgeError(f"{option} takes seeds like 1,2,7-9, got {text!r}") from None
    if not seeds or len(seeds) > 64 or min(seeds) < 0:
        raise GanforgeError(f"{option} takes 1 to 64 non-negative seeds, got {text!r}")
    return seeds


def _z_and_label(gen, seed: int, label):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(1, gen.z_dim, generator=g)
    if not gen.num_classes:
        if label is not None:
            gen.label_index(label)  # the one-line 'unconditional' error
        return z, None
    y = gen.label_index(label) if label is not None else int(torch.randint(gen.num_classes, (1,), generator=g))
    return z, torch.tensor([y])


@torch.no_grad()
def seed_ws(gen, seeds: list[int], label=None, truncation: float | None = None) -> torch.Tensor:
    """(len(seeds), n_ws, w_dim): each seed's w (its label drawn from the same seed unless
    `label`), broadcast to every layer."""
    zs, ys = zip(*(_z_and_label(gen, s, label) for s in seeds))
    y = torch.cat(ys).to(gen.device) if ys[0] is not None else None
    w = gen.net.map(torch.cat(zs).to(gen.device), y, truncation)
    return gen.net.broadcast(w)


def default_crossover(n_ws: int) -> int:
    """Coarse = the first half of the layers (rounded up): the lowest resolutions."""
    return (n_ws + 1) // 2


@torch.no_grad()
def style_mix(gen, coarse: list[int], fine: list[int], crossover: int | None = None, label=None,
              truncation: float | None = None) -> dict:
    """Cell (i, j) takes layers < crossover (coarse styles) from seed coarse[i] and the rest
    (fine styles) from fine[j]. Returns the images (model space, (rows, cols, C, H, W)), the
    sources' images and the picture: top row the fine sources, left column the coarse ones."""
    require_style(gen, "style mixing")
    require_images(gen, "style mixing")
    net = gen.net
    if truncation is not None:
        gen.check_truncation(truncation)
    cross = default_crossover(net.n_ws) if crossover is None else crossover
    if not 1 <= cross < net.n_ws:
        raise GanforgeError(f"--crossover must be 1..{net.n_ws - 1} (this generator has {net.n_ws} style layers), got {cross}")
    wa, wb = seed_ws(gen, coarse, label, truncation), seed_ws(gen, fine, label, truncation)
    mixed = torch.cat([wa[:, None, :cross].expand(-1, len(fine), -1, -1),
                       wb[None, :, cross:].expand(len(coarse), -1, -1, -1)], dim=2)
    cells = net.synthesis(mixed.reshape(-1, *mixed.shape[2:])).float().cpu()
    xa, xb = net.synthesis(wa).float().cpu(), net.synthesis(wb).float().cpu()
    blank = torch.ones_like(xa[:1])  # white corner
    rows = [torch.cat([blank, xb])] + [torch.cat([xa[i:i + 1], cells[i * len(fine):(i + 1) * len(fine)]])
                                         for i in range(len(coarse))]
    picture = grid(to_uint8(torch.cat(rows)), nrow=len(fine) + 1, upscale_to=512)
    return {"cells": cells.view(len(coarse), len(fine), *cells.shape[1:]), "coarse": xa, "fine": xb,
            "crossover": cross, "n_ws": net.n_ws, "picture": picture}


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of rows of a and b (Gaussian latents live near a sphere)."""
    cos = (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    safe = so.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1 - t) * omega) / so.clamp(min=1e-6), torch.full_like(so, 1 - t))
    wb = torch.where(safe, torch.sin(t * omega) / so.clamp(min=1e-6), torch.full_like(so, t))
    return wa * a + wb * b


@torch.no_grad()
def walk_frames(gen, n: int = 4, points: int = 4, frames: int = 48, seed: int = 0, label=None,
                truncation: float | None = None) -> list[np.ndarray]:
    """A looping walk through `points` random latents for each of `n` side-by-side walks:
    `frames` uint8 grids."""
    require_images(gen, "a latent walk")
    if not (1 <= n <= 64 and 2 <= points <= 32 and 2 <= frames <= 600):
        raise GanforgeError(f"walk wants 1-64 walks, 2-32 points and 2-600 frames; got n={n}, "
                            f"points={points}, frames={frames}")
    if truncation is not None:
        gen.check_truncation(truncation)
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(points, n, gen.z_dim, generator=g)
    y = None
    if gen.num_classes:
        y = (torch.full((n,), gen.label_index(label), dtype=torch.int64) if label is not None
             else torch.randint(gen.num_classes, (n,), generator=g)).to(gen.device)
    elif label is not None:
        gen.label_index(label)
    style = is_style(gen)
    if style:  # walk in W: map the key points once, then straight lines between them
        keys = torch.stack([gen.net.map(k.to(gen.device), y, truncation).cpu() for k in keys])
    out = []
    for f in range(frames):
        pos = f * points / frames
        i, t = int(pos), pos - int(pos)
        a, b = keys[i], keys[(i + 1) % points]
        if style:
            x = gen.net.synthesis(gen.net.broadcast(((1 - t) * a + t * b).to(gen.device)))
        else:
            x = gen.net(slerp(a, b, t).to(gen.device), y)
        out.append(grid(to_uint8(x.float().cpu()), nrow=n, upscale_to=256))
    return out


def project(gen, image: np.ndarray, steps: int = 300, label=None, wplus: bool = False, lr: float = 0.05) -> dict:
    """Find w whose image matches `image` (uint8 (H, W, C), the model's size): Adam on the
    mean squared pixel error, from the mean w of the label (or of the class whose mean image is
    closest). `wplus`: one w per layer (closer fits, less like the model's own images).
    Reports the RMS error in [0, 1] units at the start (the mean-w image) and at the end."""
    require_style(gen, "projection")
    require_images(gen, "projection")
    net = gen.net
    if steps < 1:
        raise GanforgeError(f"--steps must be at least 1, got {steps}")
    target = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(gen.device)
    with torch.no_grad():
        if gen.num_classes and label is None:  # start from the class whose mean image fits best
            means = net.synthesis(net.broadcast(net.w_avg))
            y = int(((means.float() - target) ** 2).flatten(1).mean(1).argmin())
        else:
            y = gen.label_index(label) if gen.num_classes else 0
        start = net.w_avg[y:y + 1].clone()
    w = (start.expand(net.n_ws, -1).clone()[None] if wplus else start.clone()).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)

    def render():
        return net.synthesis(w if wplus else net.broadcast(w))

    def rms(x):
        return float(((x.detach().float().clamp(-1, 1) - target) / 2).pow(2).mean().sqrt())

    rms_start = rms(render())
    net.requires_grad_(False)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(render().float(), target)
        loss.backward()
        opt.step()
    with torch.no_grad():
        x = render().float()
    err = rms(x)
    return {"w": w.detach().cpu(), "wplus": wplus, "label": y if gen.num_classes else None,
            "image": to_uint8(x.cpu())[0], "rms_start": rms_start, "rms": err,
            "psnr": float(20 * np.log10(1.0 / max(err, 1e-8))), "steps": steps}
