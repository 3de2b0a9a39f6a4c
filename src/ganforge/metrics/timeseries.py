"""TimeGAN's two scores for synthetic time series (Yoon et al. 2019, section 5), as its authors
compute them, on windows (N, T, F) in the model's [0, 1] space with lengths (N,):

- discriminative score: a post-hoc 1-layer GRU classifier (hidden F // 2, on its last real
  step) learns real vs synthetic on 80% of each (2,000 Adam steps of 128); |accuracy - 0.5| on
  the other 20%. 0 = indistinguishable, 0.5 = always told apart.
- predictive score: a post-hoc 1-layer GRU (hidden F // 2) trained on synthetic windows
  (5,000 Adam steps of 128, L1 loss) predicts the last feature one step ahead from the other
  features; its mean absolute error on real windows. Lower is better; training on real data
  gives the reference.

Plus the baselines the benchmark sets beside a generator: a Gaussian over whole windows (mean
and full covariance of the T*F values) and uniform noise.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class _PostHocGRU(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out_dim: int = 1):
        super().__init__()
        self.rnn = nn.GRU(in_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, out_dim)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def _as_tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.nan_to_num(np.asarray(x, dtype=np.float32)))


def _lengths(x, lengths) -> torch.Tensor:
    return torch.full((len(x),), x.shape[1], dtype=torch.long) if lengths is None else torch.as_tensor(lengths).long()


def discriminative_score(real, fake, real_lengths=None, fake_lengths=None, seed: int = 0,
                         iterations: int = 2000, batch_size: int = 128, lr: float = 1e-3) -> float:
    """|held-out accuracy - 0.5| of a post-hoc GRU telling real from synthetic windows."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xr, xf = _as_tensor(real), _as_tensor(fake)
    len_r, len_f = _lengths(xr, real_lengths), _lengths(xf, fake_lengths)
    parts = []
    for x, ln in ((xr, len_r), (xf, len_f)):
        p = torch.randperm(len(x), generator=g)
        cut = int(0.8 * len(x))
        parts.append(((x[p[:cut]], ln[p[:cut]]), (x[p[cut:]], ln[p[cut:]])))
    f = xr.shape[-1]
    net = _PostHocGRU(f, max(1, f // 2))
    opt = torch.optim.Adam(net.parameters(), lr=lr)

    def logits(x, ln):
        return net(x).squeeze(-1).gather(1, (ln - 1)[:, None]).squeeze(1)  # at the last real step

    (tr_r, te_r), (tr_f, te_f) = parts
    y = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)])
    for _ in range(iterations):  # one forward over both halves of the batch
        ir = torch.randint(len(tr_r[0]), (batch_size,), generator=g)
        i_f = torch.randint(len(tr_f[0]), (batch_size,), generator=g)
        out = logits(torch.cat([tr_r[0][ir], tr_f[0][i_f]]), torch.cat([tr_r[1][ir], tr_f[1][i_f]]))
        loss = nn.functional.binary_cross_entropy_with_logits(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        correct = (logits(*te_r) > 0).sum() + (logits(*te_f) <= 0).sum()
    return abs(float(correct) / (len(te_r[0]) + len(te_f[0])) - 0.5)


def predictive_score(train, test, train_lengths=None, test_lengths=None, seed: int = 0,
                     iterations: int = 5000, batch_size: int = 128) -> float:
    """MAE on `test` of a post-hoc GRU trained on `train` to predict the last feature at step
    t+1 from the other features up to t (train on synthetic, test on real)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xa, xb = _as_tensor(train), _as_tensor(test)
    la, lb = _lengths(xa, train_lengths), _lengths(xb, test_lengths)
    f = xa.shape[-1]
    net = _PostHocGRU(f - 1, max(1, f // 2))
    opt = torch.optim.Adam(net.parameters())

    def split(x, ln):
        steps = torch.arange(x.shape[1] - 1)[None, :]
        return x[:, :-1, :f - 1], x[:, 1:, f - 1], (steps < (ln - 1)[:, None]).float()

    for _ in range(iterations):
        i = torch.randint(len(xa), (batch_size,), generator=g)
        inp, target, m = split(xa[i], la[i])
        err = (torch.sigmoid(net(inp).squeeze(-1)) - target).abs()
        loss = (err * m).sum() / m.sum().clamp_min(1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        inp, target, m = split(xb, lb)
        err = (torch.sigmoid(net(inp).squeeze(-1)) - target).abs()
        per_window = (err * m).sum(1) / m.sum(1).clamp_min(1)  # TimeGAN: MAE per window, then mean
    return float(per_window.mean())


def gaussian_windows(real, n: int, seed: int = 0) -> np.ndarray:
    """A baseline generator: a multivariate Gaussian fitted to whole flattened windows."""
    x = np.asarray(real, dtype=np.float64).reshape(len(real), -1)
    rng = np.random.default_rng(seed)
    out = rng.multivariate_normal(x.mean(0), np.cov(x, rowvar=False), size=n, method="eigh")
    return out.reshape((n, *np.asarray(real).shape[1:])).astype(np.float32)


def noise_windows(real, n: int, seed: int = 0) -> np.ndarray:
    """A baseline generator that learnt nothing: U[0, 1) windows."""
    return np.random.default_rng(seed).random((n, *np.asarray(real).shape[1:]), dtype=np.float32)
