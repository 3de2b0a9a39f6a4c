"""The InceptionV3 of standard FID (the TF 2015-12-05 graph as ported to PyTorch, "pt_inception"),
written here without torchvision. ganforge never downloads it: pass the weights file with
`--inception-weights pt_inception-2015-12-05-6726825d.pth` (or a .safetensors of the same tensors).

Layer names match that file, so its state dict loads as is. FID's variants of the blocks are
kept: average pools that do not count padding, and a max pool in the last block's pool branch
(a quirk of the TF graph that published FIDs include). Input: images in [-1, 1], resized
bilinearly to 299x299, grey repeated to RGB. Features: the 2048-d pool3 vector.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..io.errors import GanforgeError

FEATURE_DIM = 2048


class Conv(nn.Module):
    """conv (no bias) + batch norm (eps 1e-3) + ReLU; keys conv.weight, bn.* as in the file."""

    def __init__(self, i, o, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(i, o, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(o, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):  # Mixed_5b/5c/5d
    def __init__(self, i, pool):
        super().__init__()
        self.branch1x1 = Conv(i, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = Conv(i, 48, 1), Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Conv(i, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
        self.branch_pool = Conv(i, pool, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg(x))], 1)


class BlockB(nn.Module):  # Mixed_6a: grid 35 -> 17
    def __init__(self, i):
        super().__init__()
        self.branch3x3 = Conv(i, 384, 3, stride=2)
        self.branch3x3dbl_1 = Conv(i, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):  # Mixed_6b..6e: factorised 7x7
    def __init__(self, i, c7):
        super().__init__()
        self.branch1x1 = Conv(i, 192, 1)
        self.branch7x7_1 = Conv(i, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Conv(i, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = Conv(i, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for k in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{k}")(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg(x))], 1)


class BlockD(nn.Module):  # Mixed_7a: grid 17 -> 8
    def __init__(self, i):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = Conv(i, 192, 1), Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Conv(i, 192, 1)
        self.branch7x7x3_2 = Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):  # Mixed_7b (avg pool) and Mixed_7c (max pool: the TF graph's quirk)
    def __init__(self, i, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(i, 320, 1)
        self.branch3x3_1 = Conv(i, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(i, 448, 1)
        self.branch3x3dbl_2 = Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(i, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pool)], 1)


class FIDInceptionV3(nn.Module):
    """forward(x in [-1, 1], any size, 1 or 3 channels) -> (pool3 features (N, 2048), logits (N, 1008))."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b, self.Mixed_6c = BlockC(768, 128), BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = BlockC(768, 160), BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b, self.Mixed_7c = BlockE(1280, max_pool=False), BlockE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, 1008)

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        f = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return f, self.fc(f)


def _why_unreadable(path: Path, e: Exception) -> str:
    """What is wrong with the file, in words (torch's own messages can be a bare number)."""
    import zipfile
    if path.stat().st_size == 0:
        return "the file is empty"
    if path.suffix == ".safetensors":
        return f"not a valid safetensors file ({str(e).splitlines()[0][:80]})"
    with open(path, "rb") as f:
        pickled = f.read(1) == b"\x80"  # the pickle protocol marker of a legacy torch file
    if not zipfile.is_zipfile(path) and not pickled:
        return "not a PyTorch weights file (neither a torch zip archive nor a tensor pickle)"
    if "weights_only" in str(e) or "Unsupported global" in str(e):
        return "it holds Python objects besides tensors, and loading them could run code"
    return f"a damaged or foreign torch archive ({str(e).splitlines()[0][:80]})"


def read_weights(path: Path) -> dict:
    """Tensors only: safetensors, or a torch file read with weights_only=True (no code runs)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path))
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to read is a bad user file
        raise GanforgeError(f"cannot read --inception-weights {path}: {_why_unreadable(path, e)}; "
                            f"pass the pt_inception-2015-12-05 .pth file or a .safetensors") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GanforgeError(f"--inception-weights {path} holds a {type(sd).__name__}, not a mapping of "
                            f"tensor names to tensors; pass the pt_inception-2015-12-05 .pth file")
    return sd


def load_inception(path: str | Path) -> tuple[nn.Module, dict]:
    """(the FID InceptionV3 net in eval mode, its card) from a user-supplied weights file."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"--inception-weights {path} does not exist; pass the FID InceptionV3 "
                            f"weights file (pt_inception-2015-12-05-6726825d.pth)")
    sd = {k: v for k, v in read_weights(path).items() if not k.startswith("AuxLogits.")}
    net = FIDInceptionV3()
    try:
        missing, unexpected = net.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shape mismatch
        raise GanforgeError(f"--inception-weights {path} does not fit the FID InceptionV3 "
                            f"({str(e).splitlines()[-1].strip()[:120]})") from None
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        bad = (missing or unexpected)[0]
        raise GanforgeError(f"--inception-weights {path} is not the FID InceptionV3 "
                            f"({'missing' if missing else 'unexpected'} tensor '{bad}'); "
                            f"pass pt_inception-2015-12-05-6726825d.pth")
    card = {"summary": f"standard FID InceptionV3 pool3 from {path.name}; comparable to published "
                       f"FID only at the same sample counts and resize", "weights": str(path)}
    return net.eval(), card
