"""ResNet-34: torchvision's parameter count and layer-for-layer equality with converted weights."""

import numpy as np
import pytest

import keras

from keras_cxr.models import load_torchvision_weights, resnet34
from keras_cxr.models.resnet.resnet import FILTERS, STAGES


def torchvision_resnet34_params(num_classes=1000, channels=3):
    """Parameters of torchvision.models.resnet34 (BN running statistics are buffers, not parameters)."""
    conv = lambda k, i, o: k * k * i * o  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(7, channels, 64) + bn(64)
    inplanes = 64
    for blocks, planes in zip(STAGES, FILTERS):
        for b in range(blocks):
            total += conv(3, inplanes, planes) + bn(planes) + conv(3, planes, planes) + bn(planes)
            if b == 0 and inplanes != planes:
                total += conv(1, inplanes, planes) + bn(planes)
            inplanes = planes
    return total + 512 * num_classes + num_classes


def test_resnet34_parameter_count_matches_torchvision():
    model = resnet34((224, 224, 3), num_classes=1000)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == torchvision_resnet34_params() == 21_797_672  # sum(p.numel() for p in resnet34().parameters())
    assert model.output_shape == (None, 1000)


def _torch_resnet34(state, x):
    """torchvision's ResNet-34 forward (eval mode), written with torch.nn.functional on a state dict."""
    import torch.nn.functional as F

    def bn(h, prefix):
        return F.batch_norm(h, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"],
                            state[f"{prefix}.weight"], state[f"{prefix}.bias"], False, 0.0, 1e-5)

    h = F.relu(bn(F.conv2d(x, state["conv1.weight"], stride=2, padding=3), "bn1"))
    h = F.max_pool2d(h, 3, 2, 1)
    for stage, blocks in enumerate(STAGES):
        for b in range(blocks):
            p, stride = f"layer{stage + 1}.{b}", 2 if b == 0 and stage > 0 else 1
            y = F.relu(bn(F.conv2d(h, state[f"{p}.conv1.weight"], stride=stride, padding=1), f"{p}.bn1"))
            y = bn(F.conv2d(y, state[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            if f"{p}.downsample.0.weight" in state:
                h = bn(F.conv2d(h, state[f"{p}.downsample.0.weight"], stride=stride), f"{p}.downsample.1")
            h = F.relu(y + h)
    return F.linear(h.mean((2, 3)), state["fc.weight"], state["fc.bias"])


def _random_state_dict(torch, num_classes=10):
    rng = np.random.default_rng(0)
    state = {}

    def conv(name, o, i, k):
        state[name] = torch.tensor(rng.normal(0, np.sqrt(2 / (o * k * k)), (o, i, k, k)), dtype=torch.float32)

    def bn(name, c):
        for key, value in (("weight", rng.uniform(0.5, 1.5, c)), ("bias", rng.normal(0, 0.1, c)),
                           ("running_mean", rng.normal(0, 0.1, c)), ("running_var", rng.uniform(0.5, 2, c))):
            state[f"{name}.{key}"] = torch.tensor(value, dtype=torch.float32)

    conv("conv1.weight", 64, 3, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, (blocks, planes) in enumerate(zip(STAGES, FILTERS)):
        for b in range(blocks):
            p = f"layer{stage + 1}.{b}"
            conv(f"{p}.conv1.weight", planes, inplanes, 3)
            bn(f"{p}.bn1", planes)
            conv(f"{p}.conv2.weight", planes, planes, 3)
            bn(f"{p}.bn2", planes)
            if b == 0 and inplanes != planes:
                conv(f"{p}.downsample.0.weight", planes, inplanes, 1)
                bn(f"{p}.downsample.1", planes)
            inplanes = planes
    state["fc.weight"] = torch.tensor(rng.normal(0, 0.05, (num_classes, 512)), dtype=torch.float32)
    state["fc.bias"] = torch.tensor(rng.normal(0, 0.05, num_classes), dtype=torch.float32)
    return state


def test_torchvision_weights_convert_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    state = _random_state_dict(torch)
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype("float32")
    with torch.no_grad():
        expected = _torch_resnet34(state, torch.tensor(x.transpose(0, 3, 1, 2))).numpy()
    path = tmp_path / "resnet34.pth"
    torch.save(state, path)
    model = resnet34((64, 64, 3), num_classes=10, weights=str(path))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=False)), expected, rtol=1e-3, atol=1e-3)
    # 1-channel model: stem summed over RGB equals feeding the gray image replicated to RGB.
    gray = resnet34((64, 64, 1), num_classes=0)
    used = load_torchvision_weights(gray, state)
    assert "fc.weight" not in used and "conv1.weight" in used
    rgb = keras.Model(model.input, model.get_layer("pool").output)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gray(x[..., :1], training=False)),
                               keras.ops.convert_to_numpy(rgb(np.repeat(x[..., :1], 3, -1), training=False)),
                               rtol=1e-3, atol=1e-3)


def test_layers_of_the_same_shape_and_two_models_get_different_initial_kernels():
    """A shared initializer instance with seed=None gave every same-shaped layer the same kernel."""
    from keras_cxr.models import create_model

    first = create_model("resnet34", input_shape=(32, 32, 1))
    a, b = (first.get_layer(n).get_weights()[0] for n in ("stage1_block1_conv1", "stage1_block2_conv1"))
    assert a.shape == b.shape and not np.array_equal(a, b)
    second = create_model("resnet34", input_shape=(32, 32, 1))
    assert not np.array_equal(first.get_layer("stem_conv").get_weights()[0],
                              second.get_layer("stem_conv").get_weights()[0])
