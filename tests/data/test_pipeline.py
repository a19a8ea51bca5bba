import json
import os

import cv2
import keras
import numpy as np
import pytest

from keras_cxr.data import (CXRDataset, DegradationTarget, ImageReadError, MAEPretrainAugmentation, index_any,
                            make_dataset, make_phantom_dataset, preprocess_to_cache, randaugment, to_unit_range)


def _folder(tmp_path, n=10, shape=(40, 30)):
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), np.full(shape, 20 * i, np.uint8))
        paths.append(path)
    return paths


def _epoch(data, column=1):
    return np.concatenate([data[i][column][:, 0] for i in range(len(data))])


def test_batches_have_the_requested_shapes(tmp_path):
    paths = _folder(tmp_path)
    data = make_dataset(paths, labels=np.arange(10), image_size=16, batch_size=4, num_workers=1)
    assert isinstance(data, CXRDataset) and isinstance(data, keras.utils.PyDataset)
    assert len(data) == 3 and data.num_images == 10
    assert [data[i][0].shape for i in range(3)] == [(4, 16, 16, 1), (4, 16, 16, 1), (2, 16, 16, 1)]
    assert data[0][0].dtype == np.float32 and data[0][1].shape == (4, 1)
    assert len(make_dataset(paths, image_size=16, batch_size=4, drop_remainder=True)) == 2
    with pytest.raises(IndexError):
        data[3]


def test_every_sample_once_per_epoch_and_seeded_shuffle(tmp_path):
    paths = _folder(tmp_path)
    data = make_dataset(paths, labels=np.arange(10), image_size=16, batch_size=4, seed=3, num_workers=1)
    first = _epoch(data)
    assert sorted(first.tolist()) == list(range(10))
    again = make_dataset(paths, labels=np.arange(10), image_size=16, batch_size=4, seed=3, num_workers=1)
    np.testing.assert_array_equal(_epoch(again), first)
    other = make_dataset(paths, labels=np.arange(10), image_size=16, batch_size=4, seed=4, num_workers=1)
    assert not np.array_equal(_epoch(other), first)
    data.on_epoch_end()
    second = _epoch(data)
    assert sorted(second.tolist()) == list(range(10)) and not np.array_equal(second, first)
    again.set_epoch(1)
    np.testing.assert_array_equal(_epoch(again), second)
    ordered = make_dataset(paths, labels=np.arange(10), image_size=16, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(_epoch(ordered), np.arange(10))
    # the images really come from the files: pixel value = 20 * label / 255
    x, y = data[0]
    np.testing.assert_allclose(x[:, 0, 0, 0], 20 * y[:, 0] / 255, atol=1e-6)


def test_sources_index_paths_and_arrays_agree(tmp_path):
    paths = _folder(tmp_path, 6, shape=(16, 16))
    arrays = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) / np.float32(255) for p in paths])
    from_paths = make_dataset(paths, image_size=16, batch_size=6, shuffle=False, target=None)[0][0]
    from_arrays = make_dataset(arrays, image_size=16, batch_size=6, shuffle=False, target=None)[0][0]
    from_channel = make_dataset(arrays[..., None], image_size=16, batch_size=6, shuffle=False, target=None)[0][0]
    np.testing.assert_allclose(from_paths, from_arrays, atol=1e-6)
    np.testing.assert_array_equal(from_arrays, from_channel)
    with pytest.raises(ValueError, match="single path"):
        make_dataset(str(paths[0]))
    with pytest.raises(ValueError, match="Array sources"):
        make_dataset(np.zeros((3, 8, 8, 3)))


def test_index_source_brings_its_labels(shared_data):
    index = index_any(shared_data / "kermany_pediatric_224").subset(np.arange(12))
    data = make_dataset(index, image_size=32, batch_size=12, shuffle=False)
    x, y = data[0]
    assert x.shape == (12, 32, 32, 1) and y.shape == (12, len(index.class_names))
    np.testing.assert_array_equal(y, index.labels)


def test_transforms_run_after_decoding(tmp_path):
    paths = _folder(tmp_path, 2)
    data = make_dataset(paths, image_size=8, batch_size=2, shuffle=False, target=None,
                        transforms=[lambda image: image[:20], lambda image: image * 0 + 0.25])
    np.testing.assert_allclose(data[0][0], 0.25, atol=1e-6)
    with pytest.raises(ValueError, match="transforms"):
        make_dataset(paths, transforms=["resize"])


def test_cache_in_memory_and_on_disk_equal_no_cache(tmp_path):
    paths = _folder(tmp_path, 7)
    options = dict(image_size=16, batch_size=3, seed=1, target="image", augment=MAEPretrainAugmentation(12, 16),
                   transforms=[to_unit_range], progress=False)
    plain = make_dataset(paths, **options)
    memory = make_dataset(paths, cache=True, **options)
    disk = make_dataset(paths, cache=tmp_path / "cache", **options)
    assert isinstance(disk.images, np.memmap) and memory.paths is None
    for epoch in range(2):
        for data in (plain, memory, disk):
            data.set_epoch(epoch)
        for i in range(len(plain)):
            for a, b in zip(plain[i], memory[i]):
                np.testing.assert_array_equal(a, b)
            for a, b in zip(plain[i], disk[i]):
                np.testing.assert_array_equal(a, b)
    arrays = make_dataset(np.random.default_rng(0).random((5, 20, 20)), image_size=8, batch_size=5, shuffle=False,
                          target=None)
    cached = make_dataset(np.random.default_rng(0).random((5, 20, 20)), image_size=8, batch_size=5, shuffle=False,
                          target=None, cache=True, progress=False)
    np.testing.assert_array_equal(arrays[0][0], cached[0][0])


def test_processes_building_one_cache_at_once_take_turns(tmp_path):
    """Data-parallel ranks of one machine share `--image-cache`: three processes start on one folder at the
    same moment (each waits for a go file after its imports) and each returns the complete, correct cache
    (the images are constants, so the cache's values are known). Without the lock they overwrite each
    other's files (the done flags' temporary file, a truncated images.npy)."""
    import subprocess
    import sys

    paths = []
    for i in range(200):
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], np.full((96, 80), i, np.uint8))
    (tmp_path / "paths.json").write_text(json.dumps(paths))
    go = tmp_path / "go"
    script = ("import json, os, sys, time; from keras_cxr.data import preprocess_to_cache; print('READY', flush=True)\n"
              "while not os.path.exists(sys.argv[3]): time.sleep(0.005)\n"
              "c = preprocess_to_cache(json.load(open(sys.argv[1])), sys.argv[2], 8, dtype='uint8', num_workers=1, "
              "progress=False, save_every=1); print('ROWS', *c.reshape(len(c), -1).max(axis=1).tolist())")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "paths.json"), str(tmp_path / "cache"),
                              str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:
        assert run.stdout.readline().strip() == "READY"
    go.touch()
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-2000:]
        rows = next(line for line in out.splitlines() if line.startswith("ROWS")).split()[1:]
        assert [int(v) for v in rows] == list(range(200))


def test_preprocess_to_cache_resumes_without_redoing_work(tmp_path):
    paths = _folder(tmp_path, 6)
    broken = tmp_path / "3.png"
    good = broken.read_bytes()
    broken.write_bytes(b"not an image")
    folder = tmp_path / "cache"
    with pytest.raises(ImageReadError, match="3.png"):
        preprocess_to_cache(paths, folder, 8, num_workers=1, progress=False, save_every=1)
    done = np.load(folder / "done.npy")
    assert done[:3].all() and not done[3]
    # Mark a finished row: a resumed pass must keep it, not decode that file again.
    images = np.load(folder / "images.npy", mmap_mode="r+")
    images[0] = 0.5
    images.flush()
    del images
    broken.write_bytes(good)
    cached = preprocess_to_cache(paths, folder, 8, num_workers=2, progress=False)
    assert np.load(folder / "done.npy").all()
    np.testing.assert_allclose(cached[0], 0.5)
    np.testing.assert_allclose(cached[1:, 0, 0, 0], 20 * np.arange(1, 6) / 255, atol=1e-6)
    assert json.loads((folder / "meta.json").read_text())["image_size"] == 8
    with pytest.raises(ValueError, match="other settings"):
        preprocess_to_cache(paths, folder, 16, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        preprocess_to_cache(paths[:5], folder, 8, progress=False)


def test_targets_and_normalization(tmp_path):
    paths = _folder(tmp_path, 6)
    plain = make_dataset(paths, image_size=16, batch_size=3, shuffle=False, target="image")
    x, y = plain[0]
    np.testing.assert_array_equal(x, y)
    assert len(make_dataset(paths, image_size=16, batch_size=3, target=None)[0]) == 1
    assert len(make_dataset(paths, image_size=16, batch_size=3)[0]) == 1  # no labels → (x,)
    normalized = make_dataset(paths, image_size=16, batch_size=3, shuffle=False, normalize="imagenet", target="image")
    x, y = normalized[0]
    np.testing.assert_allclose(x, (y - 0.449) / 0.226, atol=1e-3)
    np.testing.assert_array_equal(y, plain[0][1])  # the reconstruction target stays in [0, 1]
    pairs = make_dataset(paths, image_size=16, batch_size=3, shuffle=False, target=DegradationTarget("noise"))
    degraded, clean = pairs[0]
    np.testing.assert_array_equal(clean, plain[0][0])
    assert 0.0 < np.abs(degraded - clean).mean() < 0.1
    np.testing.assert_array_equal(pairs[0][0], degraded)  # same (seed, epoch, batch) → same noise
    with pytest.raises(ValueError, match="target"):
        make_dataset(paths, target="mask")
    with pytest.raises(ValueError, match="normalize"):
        make_dataset(paths, normalize="zscore")


def test_augmentations_per_image_and_per_batch(tmp_path):
    paths = _folder(tmp_path, 8, shape=(64, 48))
    mae = make_dataset(paths, image_size=24, batch_size=4, target=None, augment=MAEPretrainAugmentation(24, 32))
    assert mae.load_size == 32 and mae[0][0].shape == (4, 24, 24, 1)
    np.testing.assert_array_equal(mae[1][0], mae[1][0])  # per-image draws depend on (seed, epoch, batch)
    both = make_dataset(paths, image_size=24, batch_size=4, target=None,
                        augment=[MAEPretrainAugmentation(24, 32), randaugment(6, seed=0)])
    x = both[0][0]
    assert x.shape == (4, 24, 24, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    legacy = make_dataset(paths, image_size=16, batch_size=4, target=None, batch_augment=randaugment(6, seed=0))
    assert legacy[0][0].shape == (4, 16, 16, 1)
    with pytest.raises(ValueError, match="before"):
        make_dataset(paths, augment=[randaugment(6), MAEPretrainAugmentation()])


def test_parallel_iteration_equals_indexing(tmp_path):
    paths = _folder(tmp_path, 9)
    data = make_dataset(paths, labels=np.arange(9), image_size=16, batch_size=2, num_workers=2, max_queue_size=2,
                        augment=MAEPretrainAugmentation(12, 16))
    batches = list(data)
    assert len(batches) == len(data) == 4  # 9 shuffled images in pairs: the lone ninth sits out the epoch
    for i, (x, y) in enumerate(batches):
        np.testing.assert_array_equal(x, data[i][0])
        np.testing.assert_array_equal(y, data[i][1])


def test_read_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    data = make_dataset([bad], image_size=16, batch_size=1)
    with pytest.raises(ImageReadError, match="bad.png"):
        data[0]
    with pytest.raises(ImageReadError, match="bad.png"):
        make_dataset([bad], image_size=16, cache=True, progress=False)
    with pytest.raises(ValueError, match="empty"):
        make_dataset([], image_size=16)
    with pytest.raises(ValueError, match="labels has"):
        make_dataset(np.zeros((3, 8, 8)), labels=np.zeros((2, 1)))


def _tiny_classifier(size, outputs=1):
    model = keras.Sequential([keras.Input((size, size, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(outputs, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    return model


def test_model_fit_on_phantom_arrays_with_workers():
    phantom = make_phantom_dataset(24, image_size=32, seed=0)
    data = make_dataset(phantom.images, labels=phantom.labels, image_size=32, batch_size=8, num_workers=2)
    model = _tiny_classifier(32, phantom.labels.shape[1])
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert data.epoch >= 2  # fit moved the pipeline to a new shuffle every epoch (Keras 3 also calls
    # on_epoch_end once before the first epoch)
    assert model.predict(make_dataset(phantom.images, image_size=32, batch_size=5, shuffle=False, target=None),
                         verbose=0).shape == (24, phantom.labels.shape[1])


def test_model_fit_autoencoder_and_denoising_pairs(tmp_path):
    paths = _folder(tmp_path, 8, shape=(20, 20))
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile("adam", "mse")
    for target in ("image", DegradationTarget("blur")):
        data = make_dataset(paths, image_size=16, batch_size=4, target=target, num_workers=2, cache=True,
                            progress=False)
        history = model.fit(data, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"]).all()


def test_model_fit_on_real_files_with_workers(shared_data):
    index = index_any(shared_data / "kermany_pediatric_224").subset(np.arange(24))
    data = make_dataset(index, image_size=32, batch_size=8, num_workers=2, augment=MAEPretrainAugmentation(32, 40))
    model = _tiny_classifier(32, len(index.class_names))
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_model_fit_with_a_keras_layer_augmentation_in_the_workers():
    from keras_cxr.data import mae_pretrain_augmentation

    images = np.random.default_rng(0).random((16, 48, 48, 1)).astype("float32")
    data = make_dataset(images, labels=np.ones((16, 1)), image_size=48, batch_size=8, num_workers=2,
                        augment=mae_pretrain_augmentation(32, 40, seed=0))
    assert data[0][0].shape == (8, 32, 32, 1)
    history = _tiny_classifier(32).fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_uint8_folder_cache_is_a_quarter_of_float32_and_within_half_a_grey_level(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), (rng.random((20, 20)) * 255).astype(np.uint8))
        paths.append(str(path))
    exact = make_dataset(paths, image_size=16, batch_size=5, shuffle=False, target=None, cache=tmp_path / "f32",
                         progress=False)
    small = make_dataset(paths, image_size=16, batch_size=5, shuffle=False, target=None, cache=tmp_path / "u8",
                         cache_dtype="uint8", progress=False)
    assert (tmp_path / "u8" / "images.npy").stat().st_size < 0.35 * (tmp_path / "f32" / "images.npy").stat().st_size
    np.testing.assert_allclose(small[0][0], exact[0][0], atol=0.5 / 255 + 1e-6)
    again = make_dataset(paths, image_size=16, batch_size=5, shuffle=False, target=None, cache=tmp_path / "u8",
                         cache_dtype="uint8", progress=False)  # reused, not rebuilt
    np.testing.assert_array_equal(again[0][0], small[0][0])
    with pytest.raises(ValueError, match="dtype"):
        make_dataset(paths, image_size=16, cache=tmp_path / "u8", cache_dtype="float32", progress=False)


def test_a_shuffled_dataset_never_ends_on_a_batch_of_one_image():
    rows = np.arange(33, dtype="float32")[:, None]
    images = np.random.default_rng(0).random((33, 8, 8, 1)).astype("float32")
    data = make_dataset(images, labels=rows, image_size=8, batch_size=16, num_workers=1)
    assert len(data) == 2 and data.num_images == 33
    left_out = []
    for _ in range(4):
        seen = np.concatenate([data[i][1][:, 0] for i in range(len(data))])
        assert len(seen) == 32 and len(set(seen)) == 32
        left_out.append(float(next(iter(set(range(33)) - set(seen)))))
        data.on_epoch_end()
    assert len(set(left_out)) > 1  # a different image sits out each epoch
    ordered = make_dataset(images, labels=rows, image_size=8, batch_size=16, shuffle=False, num_workers=1)
    assert len(ordered) == 3 and len(ordered[2][0]) == 1  # evaluation keeps every image
    assert len(make_dataset(images[:1], image_size=8, batch_size=16, num_workers=1)) == 1  # one image: one batch


def test_training_on_arrays_or_a_dataset_ending_on_one_image_runs():
    """Without the rule above this failed on PyTorch 2.13: a 3×3 Conv2D with one filter cannot take a
    backward pass on a batch of one image ("slow_conv2d: grad_weight must be contiguous")."""
    import keras

    from keras_cxr import distributed

    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(hidden))
    model.compile(optimizer="adam", loss="mse")
    images = np.random.default_rng(1).random((17, 8, 8, 1)).astype("float32")
    history = distributed.fit(model, images, images, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    history = distributed.fit(model, images, images, batch_size=8, epochs=1, verbose=0, validation_split=0.06)
    assert np.isfinite(history.history["val_loss"][0])  # 16 rows train (2 full batches), 1 validates
    dataset = make_dataset(images, image_size=8, batch_size=16, target="image", num_workers=1)
    assert np.isfinite(distributed.fit(model, dataset, epochs=1, verbose=0).history["loss"][0])


def test_named_targets_stream_classes_age_and_masks_like_the_array_readers(tmp_path):
    """`labels={name: spec}` (issue 27): class columns, an index column and masks read with the images; the
    masks equal `load_images(..., masks=True)` of the same files, the age the index's column."""
    from keras_cxr.data import index_labels_csv, index_segmentation_pairs, load_images, make_dataset, \
        make_phantom_dataset

    folder = make_phantom_dataset(12, image_size=48, seed=1).save(str(tmp_path / "phantom"))
    index = index_labels_csv(folder)
    data = make_dataset(index, labels={"disease": "labels", "age": "age"}, image_size=32, batch_size=5,
                        shuffle=False)
    x, y = data[1]
    assert x.shape == (5, 32, 32, 1) and set(y) == {"disease", "age"}
    np.testing.assert_allclose(y["disease"], index.labels[5:10])
    np.testing.assert_allclose(y["age"][:, 0], index.frame["age"].to_numpy()[5:10], rtol=1e-6)
    pairs = index_segmentation_pairs(os.path.join(folder, "images"), os.path.join(folder, "masks"))
    x, masks = make_dataset(pairs, labels="mask_path", image_size=32, batch_size=12, shuffle=False)[0]
    np.testing.assert_array_equal(masks, load_images(pairs.mask_paths, 32, masks=True, progress=False))
    assert masks.dtype == np.float32 and set(np.unique(masks)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="do not follow the images' random augmentations"):
        make_dataset(pairs, labels={"mask": "mask_path"}, image_size=32, augment=lambda image, rng: image)
    with pytest.raises(ValueError, match="no column 'months'"):
        make_dataset(index, labels={"age": "months"}, image_size=32)
