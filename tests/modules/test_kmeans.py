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


def recovered(result, truth) -> bool:
    pairs = {(int(t), int(lab)) for t, lab in zip(truth, result.labels)}
    return len(pairs) == len(set(truth.tolist())) == len({lab for _, lab in pairs})


def test_restarts_and_d2_seeding_recover_planted_clusters():
    """6 separated clusters, 20 seeds, 3 Lloyd iterations. Random seeding rarely recovers them and restarts help;
    D^2 seeding (exact or batched) with 5 restarts recovers them from every seed."""
    points, truth, _ = planted(n_per=20, seed=7)

    def successes(init: str, restarts: int) -> int:
        runs = [kmeans(points, 6, n_iter=3, seed=s * restarts, backend="torch", init=init, n_init=restarts)
                for s in range(20)]
        return sum(recovered(r, truth) for r in runs)

    random_single, random_restarts = successes("random", 1), successes("random", 5)
    assert random_single < random_restarts < 20
    assert successes("k-means++", 5) == 20 and successes("batched-k-means++", 5) == 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_kept_restart_has_the_lowest_inertia(backend):
    points = torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    runs = [kmeans(points, 12, n_iter=2, seed=s, backend=backend, init="random") for s in range(4)]
    best = kmeans(points, 12, n_iter=2, seed=0, backend=backend, init="random", n_init=4)
    assert best.inertia == pytest.approx(min(r.inertia for r in runs), rel=1e-5)
    _, dists = assign(points, best.centroids)  # the inertia is that of the returned centroids
    assert best.inertia == pytest.approx(float(dists.sum()), rel=1e-4)


def test_batched_seeding_draws_k_distinct_points_spread_like_k_means_plus_plus():
    from missrec.modules.kmeans import batched_kmeans_plus_plus

    points, truth, _ = planted(n_per=30, k=6, seed=3)
    idx = batched_kmeans_plus_plus(points, 12, seed=0, rounds=3)
    assert idx.shape == (12,) and idx.unique().numel() == 12
    assert truth[idx].unique().numel() == 6  # D^2 sampling reaches every planted cluster


@pytest.mark.parametrize("init", ["random", "k-means++", "batched-k-means++"])
def test_zero_iterations_return_the_seeds(init):
    points, _, _ = planted(n_per=10, seed=1)
    result = kmeans(points, 6, n_iter=0, seed=0, backend="torch", init=init)
    matches = (result.centroids.unsqueeze(1) == points.unsqueeze(0)).all(-1).any(1)
    assert matches.all()  # every centroid is one of the points


def test_faiss_distances_for_batched_seeding_equal_the_torch_ones():
    """The faiss path updates batched k-means++'s D^2 weights with faiss's flat search: same distances as assign."""
    pytest.importorskip("faiss")
    from missrec.modules.kmeans import _faiss_nearest_sq, assign

    points = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    centres = torch.tensor([3, 77, 250, 499])
    faiss_sq = _faiss_nearest_sq(points.numpy())(centres)
    torch.testing.assert_close(faiss_sq, assign(points, points[centres])[1], rtol=1e-4, atol=1e-4)
    assert float(faiss_sq[centres].abs().max()) < 1e-4  # a centre is at distance 0 from itself
