"""keras.applications backbones of paper 002 in the builder contract: parameter counts, feature strides, errors."""

import keras
import numpy as np
import pytest

from keras_cxr.models import create_model, feature_extractor, feature_levels
from keras_cxr.models.applications import APPLICATIONS

# Published parameter counts with the 1000-class head at 224 × 224 × 3: the keras.io applications table
# (https://keras.io/api/applications/: ResNet50 25.6 M, MobileNetV2 3.5 M, Xception 22.9 M, DenseNet121 8.1 M,
# exact values from the same constructors with include_top=True); VGG19: its 20,024,384-parameter trunk +
# our GAP → Dense(1000) head (Keras' 143.7 M top is two 4096-wide dense layers, which we do not use).
PUBLISHED = {"vgg19": 20_024_384 + 513_000, "mobilenet_v2": 3_538_984, "xception": 22_910_480,
             "densenet121": 8_062_504, "resnet50": 25_636_712}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_equals_the_published_one(name):
    model = create_model(name, input_shape=(224, 224, 3), num_classes=1000, head_activation="softmax")
    assert model.count_params() == PUBLISHED[name] == APPLICATIONS[name][-1]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_one_channel_default_and_feature_levels_by_stride(name):
    side = 96
    model = create_model(name, input_shape=(side, side, 1))
    assert model.input_shape == (None, side, side, 1)
    levels = feature_levels(model)
    assert levels == APPLICATIONS[name][3]
    outputs = feature_extractor(model)(np.zeros((1, side, side, 1), "float32"))
    for level, tensor in outputs.items():
        stride = 2 ** int(level[1:])
        # Xception's 'valid' convolutions trim a few pixels: 45 instead of 48 at stride 2
        assert side / stride - 4 <= tensor.shape[1] <= side / stride + 1, (name, level, tensor.shape)


def test_imagenet_weights_unavailable_say_how_to_supply_them(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(OSError, match="Keras' cache"):
        create_model("resnet50", weights="imagenet")
    with pytest.raises(ValueError, match=">= 71"):
        create_model("xception", input_shape=(64, 64, 1))
