import pytest
import torch
from torch import nn

from tda_mci.model.cnn import HybridCNN, count_parameters


def expected_parameters(n, n_classes=2):
    """Parameter count of docs/method.md section 6, by hand: (fan_in + 1) * fan_out per layer."""
    convs = [(1, 16), (16, 32), (32, 64), (64, 128), (128, 256)]
    conv = sum((c_in * 3 * 3 + 1) * c_out for c_in, c_out in convs)
    branch1d = (n * n + 1) * 256
    head = (512 + 1) * 128 + (128 + 1) * 64 + (64 + 1) * 32 + (32 + 1) * n_classes
    return conv + branch1d + head


def test_parameter_counts_by_hand():
    # 160 + 4640 + 18496 + 73856 + 295168 = 392320 for the convolutions.
    assert expected_parameters(18) == 392320 + 325 * 256 + 65664 + 8256 + 2080 + 66
    assert count_parameters(HybridCNN(18)) == expected_parameters(18) == 551586
    assert count_parameters(HybridCNN(34)) == expected_parameters(34) == 764578


@pytest.mark.parametrize("n", [18, 21, 34])
def test_layer_output_shapes(n):
    torch.manual_seed(0)
    model = HybridCNN(n).eval()
    shapes = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o: shapes.append((type(mod).__name__, o.shape)))
        for m in model.branch2d
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Flatten))
    ]
    x = torch.randn(3, n, n)
    out = model(x)
    for h in hooks:
        h.remove()
    half = n // 2  # odd n: the max-pool floors
    assert shapes == [
        ("Conv2d", (3, 16, n, n)),
        ("Conv2d", (3, 32, n, n)),
        ("Conv2d", (3, 64, n, n)),
        ("MaxPool2d", (3, 64, half, half)),
        ("Conv2d", (3, 128, half, half)),
        ("Conv2d", (3, 256, half, half)),
        ("AdaptiveAvgPool2d", (3, 256, 1, 1)),
        ("Flatten", (3, 256)),
    ]
    assert model.branch1d(x.unsqueeze(1)).shape == (3, 256)
    assert out.shape == (3, 2)
    # (batch, 1, n, n) input gives the same logits as (batch, n, n).
    assert torch.equal(model(x.unsqueeze(1)), out)


def test_architecture_matches_method():
    model = HybridCNN(34, dropout=0.2)
    convs = [m for m in model.branch2d if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (1, 16), (16, 32), (32, 64), (64, 128), (128, 256),
    ]  # fmt: skip
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    # ReLU follows every convolution.
    layers = list(model.branch2d)
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv2d):
            assert isinstance(layers[i + 1], nn.ReLU)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (34 * 34, 256), (512, 128), (128, 64), (64, 32), (32, 2),
    ]  # fmt: skip
    drops = [m for m in model.head if isinstance(m, nn.Dropout)]
    assert [d.p for d in drops] == [0.2, 0.2, 0.2]


def test_dropout_only_in_training_mode():
    torch.manual_seed(1)
    model = HybridCNN(10, dropout=0.5)
    x = torch.randn(8, 10, 10)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_branches_both_reach_the_logits():
    # Zeroing either branch's contribution changes the output: both feed the head.
    torch.manual_seed(2)
    model = HybridCNN(12).eval()
    x = torch.randn(4, 12, 12)
    ref = model(x)
    with torch.no_grad():
        model.branch1d[1].weight.zero_()
        model.branch1d[1].bias.zero_()
    no1d = model(x)
    assert not torch.allclose(ref, no1d)
    with torch.no_grad():
        model.branch2d[-4].weight.zero_()  # last conv (before ReLU, pooling, flatten)
        model.branch2d[-4].bias.zero_()
    assert not torch.allclose(no1d, model(x))


@pytest.mark.parametrize("bad", [1, 0, 18.0, True, "18"])
def test_bad_n_rois(bad):
    with pytest.raises(ValueError, match="n_rois"):
        HybridCNN(bad)


def test_bad_dropout_and_classes():
    with pytest.raises(ValueError, match="dropout"):
        HybridCNN(18, dropout=1.0)
    with pytest.raises(ValueError, match="n_classes"):
        HybridCNN(18, n_classes=1)


def test_wrong_input_shape_names_expected_shape():
    model = HybridCNN(18)
    with pytest.raises(ValueError, match=r"\(batch, 18, 18\).*got \(2, 20, 20\)"):
        model(torch.zeros(2, 20, 20))
