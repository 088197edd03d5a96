import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook

from tda_mci.model.cnn import HybridCNN
from tda_mci.model.data import (
    check_labels,
    correlation_features,
    standardise_matrices,
    upper_triangle,
)
from tda_mci.model.train import predict_proba, select_device, train_model

N_ROIS = 10


def symmetric_stack(rng, n_subjects, n=N_ROIS):
    a = rng.random((n_subjects, n, n))
    a = (a + a.transpose(0, 2, 1)) / 2
    a[:, np.arange(n), np.arange(n)] = 0.0
    return a


def planted(rng, n_per_class=12, n=N_ROIS, shift=0.6):
    """Class 1 matrices have a brighter 4 x 4 block."""
    X = symmetric_stack(rng, 2 * n_per_class, n)
    y = np.repeat([0, 1], n_per_class)
    X[y == 1, :4, :4] += shift
    return X, y


class Spy:
    """Records which matrices reach the optimiser (global torch hooks, no patching).

    A forward pass of a HybridCNN in training mode with gradients on is a training
    forward; the matrices of the training forwards since the last optimiser step are
    the ones that step used. Matrices are identified by their float32 bytes after
    per-matrix standardisation, which is what the model receives.
    """

    def __init__(self):
        self.pending, self.steps, self.optimisers = [], [], []
        self.eval_inputs = []

    def forward_pre(self, module, args):
        if isinstance(module, HybridCNN):
            x = args[0].detach().cpu().clone()
            if module.training and torch.is_grad_enabled():
                self.pending.append(x)
            else:
                self.eval_inputs.append(x)

    def step_pre(self, optimiser, args, kwargs):
        self.optimisers.append((type(optimiser).__name__, optimiser.param_groups[0]["lr"]))
        self.steps.append(torch.cat(self.pending))
        self.pending = []


@pytest.fixture
def spy():
    s = Spy()
    h1 = register_module_forward_pre_hook(s.forward_pre)
    h2 = register_optimizer_step_pre_hook(s.step_pre)
    yield s
    h1.remove()
    h2.remove()


def identify(batch, X):
    """Subject indices of the rows of ``batch`` among the standardised matrices of X."""
    lookup = {m.tobytes(): i for i, m in enumerate(standardise_matrices(X).astype(np.float32))}
    return [lookup[row.numpy().tobytes()] for row in batch]


# --- data.py ---------------------------------------------------------------------


def test_standardise_matches_scipy_zscore(rng):
    X = symmetric_stack(rng, 5) * rng.uniform(0.1, 10, size=(5, 1, 1)) + 3.0
    Z = standardise_matrices(X)
    ref = stats.zscore(X.reshape(5, -1), axis=1, ddof=0).reshape(X.shape)
    np.testing.assert_allclose(Z, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Z.mean(axis=(1, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=(1, 2)), 1.0, rtol=1e-12)
    # Per-sample: a subject's result does not depend on the other subjects.
    np.testing.assert_array_equal(standardise_matrices(X[2:3])[0], Z[2])


def test_standardise_constant_matrix_names_subject(rng):
    X = symmetric_stack(rng, 4)
    X[2] = 0.7
    with pytest.raises(ValueError, match="subject index 2 .*constant"):
        standardise_matrices(X)
    with pytest.raises(ValueError, match=r"subject index 2 \(sub-c\)"):
        standardise_matrices(X, subject_ids=["sub-a", "sub-b", "sub-c", "sub-d"])


def test_bad_matrices_and_labels(rng):
    X = symmetric_stack(rng, 3)
    X[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match="subject index 1 .*NaN"):
        standardise_matrices(X)
    with pytest.raises(ValueError, match="shape"):
        standardise_matrices(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        check_labels([0, 1, 2])
    with pytest.raises(ValueError, match="both classes"):
        check_labels([1, 1, 1])


def test_upper_triangle_order(rng):
    X = symmetric_stack(rng, 2, n=4)
    expected = np.array([[m[0, 1], m[0, 2], m[0, 3], m[1, 2], m[1, 3], m[2, 3]] for m in X])
    np.testing.assert_array_equal(upper_triangle(X), expected)


def test_correlation_features_match_numpy(rng):
    series = [rng.standard_normal((40, 6)), rng.standard_normal((55, 6))]  # lengths differ
    feats = correlation_features(series)
    rows, cols = np.triu_indices(6, k=1)
    for f, s in zip(feats, series, strict=True):
        np.testing.assert_allclose(f, np.arctanh(np.corrcoef(s.T)[rows, cols]), rtol=1e-10)


def test_correlation_features_errors(rng):
    s = rng.standard_normal((30, 5))
    flat = s.copy()
    flat[:, 3] = 2.0
    with pytest.raises(ValueError, match=r"subject index 1 \(sub-b\) is constant in ROI column 3"):
        correlation_features([s, flat], subject_ids=["sub-a", "sub-b"])
    with pytest.raises(ValueError, match="has 4 ROIs"):
        correlation_features([s, s[:, :4]])


# --- train.py --------------------------------------------------------------------


def test_select_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'tpu'"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")


def test_same_seed_identical_predictions(rng):
    X, y = planted(rng)
    kw = dict(epochs=4, batch_size=8, seed=3, device="cpu", threads=1)
    m1, h1 = train_model(X, y, **kw)
    m2, h2 = train_model(X, y, **kw)
    np.testing.assert_array_equal(predict_proba(m1, X), predict_proba(m2, X))
    assert h1["train_loss"] == h2["train_loss"]
    m3, _ = train_model(X, y, **{**kw, "seed": 4})
    assert not np.array_equal(predict_proba(m1, X), predict_proba(m3, X))


def test_training_leaves_global_torch_state_alone(rng):
    X, y = planted(rng, n_per_class=4)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_model(X, y, epochs=1, device="cpu", threads=1)
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG stream is untouched
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_optimiser_sees_each_training_subject_once_per_epoch(rng, spy):
    X, y = planted(rng, n_per_class=10)
    train, monitor = np.arange(0, 20, 2), np.arange(1, 20, 2)
    epochs, batch = 3, 4
    _, hist = train_model(
        X[train], y[train], epochs=epochs, batch_size=batch, lr=5e-4, device="cpu", threads=1,
        X_monitor=X[monitor], y_monitor=y[monitor],
    )  # fmt: skip
    # Adam with the given learning rate, ceil(10 / 4) = 3 steps per epoch.
    assert spy.optimisers == [("Adam", 5e-4)] * (epochs * 3)
    assert [len(s) for s in spy.steps] == [4, 4, 2] * epochs
    seen = [identify(step, X) for step in spy.steps]
    for e in range(epochs):
        epoch_subjects = sum(seen[3 * e : 3 * e + 3], [])
        assert sorted(epoch_subjects) == sorted(train.tolist())
    # Shuffled: the order differs between epochs.
    assert sum(seen[0:3], []) != sum(seen[3:6], [])
    # The monitored subjects only ever go through evaluation passes.
    monitored = {i for batch_ in spy.eval_inputs for i in identify(batch_, X)}
    assert monitored == set(monitor.tolist())
    assert len(hist["monitor_loss"]) == epochs


def test_monitor_set_never_changes_training(rng):
    X, y = planted(rng)
    Xm, ym = planted(rng, n_per_class=3)
    kw = dict(epochs=5, batch_size=8, seed=0, device="cpu", threads=1)
    ref, h_ref = train_model(X, y, **kw)
    m1, h1 = train_model(X, y, X_monitor=Xm, y_monitor=ym, **kw)
    m2, h2 = train_model(X, y, X_monitor=Xm, y_monitor=1 - ym, **kw)
    for m in (m1, m2):
        for (k, a), b in zip(ref.state_dict().items(), m.state_dict().values(), strict=True):
            assert torch.equal(a, b), k
    assert h_ref["train_loss"] == h1["train_loss"] == h2["train_loss"]
    assert h1["monitor_loss"] != h2["monitor_loss"]  # the curves themselves are recorded


def test_early_stopping_returns_best_validation_epoch(rng):
    X, y = planted(rng, shift=0.0)  # nothing to learn: validation loss soon rises
    Xv, yv = planted(rng, n_per_class=4, shift=0.0)
    model, hist = train_model(
        X, y, epochs=40, batch_size=8, lr=1e-2, seed=1, device="cpu", threads=1,
        X_val=Xv, y_val=yv, early_stopping=3,
    )  # fmt: skip
    val = np.array(hist["val_loss"])
    best = int(np.argmin(val)) + 1
    assert hist["best_epoch"] == best
    assert hist["epochs_run"] == min(40, best + 3)
    assert hist["epochs_run"] < 40
    prob = predict_proba(model, Xv)
    loss = F.cross_entropy(torch.log(torch.as_tensor(prob)), torch.as_tensor(yv)).item()
    assert loss == pytest.approx(val[best - 1], rel=1e-5)


def test_learns_planted_block(rng):
    X, y = planted(rng, n_per_class=12, shift=1.0)
    model, hist = train_model(X, y, epochs=30, batch_size=64, seed=0, device="cpu", threads=1)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    Xt, yt = planted(np.random.default_rng(7), n_per_class=10, shift=1.0)
    prob = predict_proba(model, Xt)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-6)
    assert ((prob[:, 1] > 0.5) == yt).mean() >= 0.9


def test_train_model_argument_errors(rng):
    X, y = planted(rng, n_per_class=3)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        train_model(X, y, epochs=0, threads=1)
    with pytest.raises(ValueError, match="early_stopping needs"):
        train_model(X, y, epochs=1, threads=1, early_stopping=3)
    with pytest.raises(ValueError, match="side 6"):
        train_model(X, y, epochs=1, threads=1, X_val=X[:, :6, :6], y_val=y)
    with pytest.raises(ValueError, match="3 labels for 6"):
        train_model(X, y[:3], epochs=1, threads=1)
