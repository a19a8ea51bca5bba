import cv2
import keras
import numpy as np
import pytest

from keras_cxr.data import (ImageReadError, MAEPretrainAugmentation, index_any, make_dataset, random_resized_crop,
                            randaugment)


def _folder(tmp_path, n=10):
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), np.full((40, 30), 20 * i, np.uint8))
        paths.append(path)
    return paths


def test_batches_cover_every_sample_once_and_reshuffle_by_seed(tmp_path):
    paths = _folder(tmp_path)
    data = make_dataset(paths, labels=np.arange(10)[:, None], image_size=16, batch_size=4, seed=3, workers=1)
    assert len(data) == 3
    seen = np.concatenate([data[i][1][:, 0] for i in range(len(data))])
    assert sorted(seen.tolist()) == list(range(10))
    first = seen.copy()
    again = make_dataset(paths, labels=np.arange(10)[:, None], image_size=16, batch_size=4, seed=3, workers=1)
    np.testing.assert_array_equal(np.concatenate([again[i][1][:, 0] for i in range(3)]), first)
    data.on_epoch_end()
    second = np.concatenate([data[i][1][:, 0] for i in range(len(data))])
    assert sorted(second.tolist()) == list(range(10)) and not np.array_equal(second, first)
    # images really come from the files: pixel value = 20 * label / 255
    x, y = data[0]
    np.testing.assert_allclose(x[:, 0, 0, 0], 20 * y[:, 0] / 255, atol=1e-6)


def test_cache_equals_no_cache_and_targets(tmp_path):
    paths = _folder(tmp_path, 6)
    plain = make_dataset(paths, image_size=16, batch_size=3, shuffle=False, target="image")
    cached = make_dataset(paths, image_size=16, batch_size=3, shuffle=False, target="image", cache=True)
    for i in range(2):
        np.testing.assert_array_equal(plain[i][0], cached[i][0])
        np.testing.assert_array_equal(cached[i][0], cached[i][1])
    pairs = make_dataset(paths, image_size=16, batch_size=3, target=lambda x, rng: (x * 0.5, x))
    x, y = pairs[0]
    np.testing.assert_allclose(x, y * 0.5)
    normalized = make_dataset(paths, image_size=16, batch_size=6, shuffle=False, normalize="imagenet", target=None)
    raw = np.concatenate([plain[0][0], plain[1][0]])
    np.testing.assert_allclose(normalized[0][0], (raw - 0.449) / 0.226, atol=1e-3)


def test_model_fit_consumes_it_with_workers(shared_data):
    index = index_any(shared_data / "kermany_pediatric_224").subset(np.arange(24))
    data = make_dataset(index, image_size=32, batch_size=8, workers=2)
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_read_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    data = make_dataset([bad], image_size=16, batch_size=1)
    with pytest.raises(ImageReadError, match="bad.png"):
        data[0]
    with pytest.raises(ValueError, match="empty"):
        make_dataset([], image_size=16)
    with pytest.raises(ValueError, match="labels has"):
        make_dataset(np.zeros((3, 8, 8)), labels=np.zeros((2, 1)))


def test_mae_augmentation_geometry_and_flip():
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 1, 300, dtype=np.float32), (300, 1))
    augment = MAEPretrainAugmentation(image_size=224, resize_to=256)
    outs = [augment(ramp, np.random.default_rng(s)) for s in range(40)]
    assert all(o.shape == (224, 224) for o in outs)
    flipped = sum(o[0, 0] > o[0, -1] for o in outs)
    assert 8 < flipped < 32  # about half flipped horizontally
    crops = [random_resized_crop(np.zeros((256, 256)), 224, rng=rng) for _ in range(5)]
    assert all(c.shape == (224, 224) for c in crops)


def test_random_resized_crop_area_within_scale():
    rows = np.repeat(np.arange(200, dtype=np.float32)[:, None], 200, axis=1)
    cols = rows.T.copy()
    for seed in range(50):
        h = np.ptp(random_resized_crop(rows, 64, (0.5, 1.0), rng=np.random.default_rng(seed))) + 1
        w = np.ptp(random_resized_crop(cols, 64, (0.5, 1.0), rng=np.random.default_rng(seed))) + 1
        assert 0.5 * 0.9 <= h * w / 200**2 <= 1.0 + 1e-6  # area fraction within scale (interpolation slack)
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1


def test_randaugment_on_gray_batches():
    out = randaugment(6, seed=1)(np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32"))
    assert out.shape == (4, 32, 32, 1) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="0-10"):
        randaugment(12)
