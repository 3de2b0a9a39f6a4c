"""sRGB <-> CIE Lab (D65) in torch, so training and inference share one conversion.
Checked against skimage.color in tests."""
from __future__ import annotations

import torch

_M = torch.tensor([[0.412453, 0.357580, 0.180423],
                   [0.212671, 0.715160, 0.072169],
                   [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> Lab (L in [0, 100], a/b roughly [-110, 110])."""
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = torch.einsum("ij,njhw->nihw", _M.to(rgb), lin) / _WHITE.to(rgb)[None, :, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of rgb_to_lab, clipped to [0, 1]."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], 1)
    xyz = torch.where(f > 0.2068966, f ** 3, (f - 16 / 116) / 7.787) * _WHITE.to(lab)[None, :, None, None]
    lin = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_M).to(lab), xyz).clamp_min(0)
    rgb = torch.where(lin > 0.0031308, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055, lin * 12.92)
    return rgb.clamp(0, 1)


# Model space: L/50 - 1 and ab/110, both about [-1, 1].
def rgb_to_model_lab(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Model-space RGB [-1, 1] -> (L (N,1,H,W), ab (N,2,H,W)) scaled to about [-1, 1]."""
    lab = rgb_to_lab((x + 1) / 2)
    return lab[:, :1] / 50 - 1, lab[:, 1:] / 110


def model_lab_to_rgb(l: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Inverse of rgb_to_model_lab -> RGB in [-1, 1]."""
    return lab_to_rgb(torch.cat([(l + 1) * 50, ab * 110], 1)) * 2 - 1
