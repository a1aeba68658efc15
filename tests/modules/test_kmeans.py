import pytest
import torch

from missrec.modules.kmeans import assign, faiss_available, interest_count, kmeans

BACKENDS = ["torch"] + (["faiss"] if faiss_available() else [])


def planted(n_per=50, k=6, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 10
    points = torch.cat([c + 0.3 * torch.randn(n_per, d, generator=g) for c in centers])
    return points, torch.arange(k).repeat_interleave(n_per), centers


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_recovers_planted_clusters(backend, seed):
    points, truth, centers = planted(seed=seed)
    result = kmeans(points, 6, n_iter=25, seed=seed, backend=backend, n_init=8)
    assert result.backend == backend
    assert result.centroids.shape == (6, 8) and result.labels.shape == (300,)
    # every planted cluster maps to exactly one found cluster and vice versa
    pairs = {(int(t), int(l)) for t, l in zip(truth, result.labels)}
    assert len(pairs) == 6 and len({l for _, l in pairs}) == 6
    for t, l in pairs:  # each centroid sits on its planted centre
        assert torch.dist(result.centroids[l], centers[t]) < 0.5


def test_torch_kmeans_never_leaves_zero_centroids():
    points = torch.randn(40, 4) + 5.0  # far from the origin: a zero centroid would stand out
    result = kmeans(points, 20, n_iter=10, seed=0, backend="torch")
    assert (result.centroids.norm(dim=1) > 1.0).all()
    labels, _ = assign(points, result.centroids)
    assert torch.equal(labels, result.labels)


def test_assign_chunks_match_the_dense_argmin():
    points, centroids = torch.randn(103, 5), torch.randn(7, 5)
    labels, dists = assign(points, centroids, chunk_elems=21)  # 3 points per chunk
    dense = torch.cdist(points, centroids)
    assert torch.equal(labels, dense.argmin(1))
    assert torch.allclose(dists, dense.min(1).values ** 2, atol=1e-4)


def test_interest_count_is_ceil_ratio_times_points():
    assert interest_count(8770, 0.5) == 4385  # Scientific: K = #items
    assert interest_count(2 * 446975, 0.02) == 17879  # FHCKM pre-training
    assert interest_count(3, 0.0001) == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="1 <= k <= n"):
        kmeans(torch.randn(3, 2), 4)
    with pytest.raises(ValueError, match="unknown k-means backend"):
        kmeans(torch.randn(3, 2), 2, backend="torchpq")
