"""Metric maths on hand-built inputs with known answers (no networks, no training)."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.metrics.fid import classifier_score, fid, frechet_distance, gaussian_stats, kid
from ganforge.metrics.memorisation import memorisation
from ganforge.metrics.modes import mode_stats
from ganforge.metrics.prdc import kth_radius, nearest, prdc


def scipy_frechet(mu1, s1, mu2, s2):
    """The textbook formula with scipy's general matrix square root (the reference)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("dim", [2, 16, 64])
def test_frechet_matches_scipy_reference(dim):
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(500, dim)) @ rng.normal(size=(dim, dim))
    b = rng.normal(loc=0.3, size=(400, dim)) @ rng.normal(size=(dim, dim))
    mu1, s1 = gaussian_stats(a)
    mu2, s2 = gaussian_stats(b)
    ours, ref = frechet_distance(mu1, s1, mu2, s2), scipy_frechet(mu1, s1, mu2, s2)
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-6)


def test_frechet_rank_deficient_covariance_matches_scipy():
    # fewer samples than dimensions: singular covariances, where sqrtm is most fragile
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 40)), rng.normal(size=(25, 40)) + 0.5
    mu1, s1 = gaussian_stats(a)
    mu2, s2 = gaussian_stats(b)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-4)


def test_fid_known_gaussians_and_identity():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert fid(a, a) == pytest.approx(0, abs=1e-8)
    # N(0, I) vs N(m, 4I) in d dims: |m|^2 + d (1 + 4 - 2*2) = |m|^2 + d
    mu, s2 = np.array([1.0, 2.0, 0.0]), 4 * np.eye(3)
    assert frechet_distance(np.zeros(3), np.eye(3), mu, s2) == pytest.approx(5 + 3)


def test_kid_is_unbiased_near_zero_for_same_distribution_and_matches_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    same, _ = kid(a, b, subset_size=300, subsets=1)
    shifted, _ = kid(a, b + 1.0, subset_size=300, subsets=1)
    assert abs(same) < 0.05 < shifted
    # brute force of the unbiased MMD^2 estimator with the cubic kernel
    k = lambda x, y: (x @ y.T / 8 + 1) ** 3  # noqa: E731
    m = 300
    kxx, kyy, kxy = k(a, a), k(b + 1, b + 1), k(a, b + 1)
    ref = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    assert shifted == pytest.approx(ref, rel=1e-9)


def test_kid_matches_torchmetrics_poly_mmd():
    tm = pytest.importorskip("torchmetrics.image.kid")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(200, 16)), rng.normal(0.2, 1.1, size=(200, 16))
    ours, _ = kid(a, b, subset_size=200, subsets=1)
    ref = float(tm.poly_mmd(torch.tensor(a), torch.tensor(b), degree=3, gamma=None, coef=1.0))
    assert ours == pytest.approx(ref, rel=1e-9)


def test_classifier_score_bounds():
    sure_balanced = np.eye(10)[np.arange(1000) % 10]
    assert classifier_score(sure_balanced) == pytest.approx(10, rel=1e-6)
    collapsed = np.eye(10)[np.zeros(1000, int)]
    assert classifier_score(collapsed) == pytest.approx(1, rel=1e-6)
    unsure = np.full((1000, 10), 0.1)
    assert classifier_score(unsure) == pytest.approx(1, rel=1e-6)


# ---- precision / recall / density / coverage ----------------------------------------------------
def two_clusters(n=50, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 4)) * 0.1
    return a, rng.normal(size=(n, 4)) * 0.1 + 100.0


def test_kth_radius_on_a_line():
    x = np.arange(10, dtype=np.float64)[:, None] * np.array([[1.0, 0.0]])
    r = kth_radius(x, 3)
    assert r[0] == pytest.approx(3) and r[9] == pytest.approx(3)   # ends: neighbours on one side
    assert r[5] == pytest.approx(2)                                 # middle: 4 and 6 at 1, 3 or 7 at 2


def test_prdc_identical_sets():
    a, b = two_clusters()
    real = np.concatenate([a, b])
    r = prdc(real, real.copy(), k_pr=3, k_dc=5)
    assert r["precision"] == 1 and r["recall"] == 1 and r["coverage"] == 1
    # each real ball holds its own copy and its k neighbours' copies: density = (k + 1) / k
    assert r["density"] == pytest.approx(6 / 5)


def test_prdc_half_collapsed_generator():
    a, b = two_clusters()
    real = np.concatenate([a, b])
    r = prdc(real, a.copy(), k_pr=3, k_dc=5)   # G reproduces only cluster A
    assert r["precision"] == 1
    assert r["recall"] == pytest.approx(0.5) and r["coverage"] == pytest.approx(0.5)
    assert r["density"] == pytest.approx(6 / 5)


def test_prdc_far_away_generator_scores_zero():
    a, b = two_clusters()
    real = np.concatenate([a, b])
    r = prdc(real, real + 1000.0)
    assert r == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_single_point_collapse_has_precision_but_no_recall():
    a, b = two_clusters()
    real = np.concatenate([a, b])
    fake = np.repeat(a[:1], 40, axis=0)         # every sample is one real point
    r = prdc(real, fake)
    assert r["precision"] == 1
    assert r["recall"] == pytest.approx(1 / 100)    # fake balls have radius 0: only that point
    assert r["coverage"] == pytest.approx(brute_prdc(real, fake)["coverage"]) and r["coverage"] < 0.5


def test_nearest_with_leave_one_out():
    x = np.array([[0.0], [1.0], [3.0]])
    d, i = nearest(x, x)
    assert (d == 0).all() and list(i) == [0, 1, 2]
    d, i = nearest(x, x, skip=np.arange(3))
    assert list(i) == [1, 0, 1] and list(d) == pytest.approx([1, 1, 2])


# ---- mode statistics (PacGAN protocol, GUIDE section 5) -----------------------------------------
RING = np.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])


def test_mode_stats_all_modes():
    rng = np.random.default_rng(0)
    x = RING[np.arange(2500) % 8] + 0.01 * rng.normal(size=(2500, 2))
    s = mode_stats(x, RING, 0.01)
    assert s["modes"] == 8 and s["high_quality"] > 0.97 and s["reverse_kl"] < 0.01


def test_mode_stats_collapsed_to_one_mode():
    rng = np.random.default_rng(0)
    x = RING[0] + 0.01 * rng.normal(size=(2500, 2))
    s = mode_stats(x, RING, 0.01)
    assert s["modes"] == 1 and s["reverse_kl"] == pytest.approx(math.log(8))


def test_mode_stats_half_the_modes_and_off_manifold():
    x = np.concatenate([RING[np.arange(1000) % 4], np.zeros((1000, 2))])   # centre is 1 from all
    s = mode_stats(x, RING, 0.01)
    assert s["modes"] == 4 and s["high_quality"] == pytest.approx(0.5)
    assert s["reverse_kl"] == pytest.approx(math.log(2))


# ---- memorisation -------------------------------------------------------------------------------
def test_memorisation_flags_copies_not_fresh_samples():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(400, 1, 6, 6, generator=g) * 2 - 1
    heldout = torch.rand(200, 1, 6, 6, generator=g) * 2 - 1
    copies = train[:100] + 0.001
    m = memorisation(train, copies, (heldout, "test"))
    assert m["near_copy_share"] == 1.0 and m["median_generated"] < 0.01
    assert {p["train"] for p in m["closest"]} <= set(range(100))
    fresh = memorisation(train, torch.rand(200, 1, 6, 6, generator=g) * 2 - 1, (heldout, "test"))
    assert fresh["near_copy_share"] < 0.06
    assert fresh["median_generated"] == pytest.approx(fresh["median_reference"], rel=0.1)
    loo = memorisation(train, copies)                    # no held-out split: leave-one-out
    assert loo["near_copy_share"] == 1.0 and "leave-one-out" in loo["reference"]


def brute_prdc(real, fake, k_pr=3, k_dc=5):
    """Direct float64 transcription of the four definitions (the reference)."""
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=2)
    d_rf = np.linalg.norm(real[:, None] - fake[None], axis=2)
    kth = lambda d, k: np.sort(d + np.diag(np.full(len(d), np.inf)), axis=1)[:, k - 1]  # noqa: E731
    r_pr, r_dc, f_pr = kth(d_rr, k_pr), kth(d_rr, k_dc), kth(d_ff, k_pr)
    return {"precision": (d_rf <= r_pr[:, None]).any(0).mean(),
            "recall": (d_rf <= f_pr[None, :]).any(1).mean(),
            "density": (d_rf <= r_dc[:, None]).sum() / (k_dc * len(fake)),
            "coverage": (d_rf <= r_dc[:, None]).any(1).mean()}


@pytest.mark.parametrize("seed", [0, 1])
def test_prdc_matches_brute_force_definitions(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(300, 6)) + 50.0           # offset: distances must survive rounding
    fake = rng.normal(0.3, 0.8, size=(250, 6)) + 50.0
    ours, ref = prdc(real, fake), brute_prdc(real, fake)
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12), k
    cache = {}                                          # real radii reused across calls
    prdc(real, real[::-1] + 0.1, cache=cache)
    assert prdc(real, fake, cache=cache) == ours
