"""Decode → resize → augment throughput: keras_cxr's pipeline vs an equivalent MONAI chain, side by side.

Both read the same real files, resize to 256 × 256, take a random resized crop to 224 (area 0.5–1) and flip
horizontally at random (paper 000's pretraining augmentation), and deliver batches of 32 float32 images,
with the same number of worker processes/threads. Prints images/s for each and the ratio.

    python benchmarks/data_pipeline.py                       # ../shared/data folders
    python benchmarks/data_pipeline.py --data-dir DIR --workers 4 --num-images 2000

MONAI is an optional peer (`pip install monai`); it is never imported by the library.
"""

import argparse
import glob
import itertools
import os
import time

import numpy as np

DEFAULT_DIRS = ["kermany_pediatric_224", "jsrt_scr_segmentation", "actualmed_covid", "figure1_covid"]


def find_files(data_dirs, num_images):
    """Files from every folder in turn (round robin), so small and large images mix; repeated to num_images."""
    per_folder = []
    for folder in data_dirs:
        files = sorted(glob.glob(os.path.join(folder, "**", "*.png"), recursive=True))
        files += sorted(glob.glob(os.path.join(folder, "**", "*.jp*g"), recursive=True))
        per_folder.append([f for f in files if os.sep + "masks" not in f])
    mixed = [f for group in itertools.zip_longest(*per_folder) for f in group if f]
    if not mixed:
        raise SystemExit(f"No PNG/JPEG files under {data_dirs}; pass --data-dir.")
    reps = int(np.ceil(num_images / len(mixed)))
    return (mixed * reps)[:num_images]


def run_keras_cxr(files, workers, batch_size, image_size):
    from keras_cxr.data import MAEPretrainAugmentation, make_dataset

    data = make_dataset(files, image_size=image_size, batch_size=batch_size, workers=workers, target=None,
                        augment=MAEPretrainAugmentation(image_size=image_size, resize_to=256), shuffle=True,
                        use_multiprocessing=workers > 1, max_queue_size=2 * workers)
    count = 0
    start = time.perf_counter()
    # The same iterator model.fit uses, with its worker pool and prefetch queue.
    from keras.src.trainers.data_adapters import py_dataset_adapter  # benchmark only: drive the real adapter

    adapter = py_dataset_adapter.PyDatasetAdapter(data, shuffle=False)
    for batch in adapter.get_numpy_iterator():
        count += len(batch[0])
    adapter.on_epoch_end()
    return count / (time.perf_counter() - start)


def run_monai(files, workers, batch_size, image_size):
    import torch
    from monai.data import DataLoader, Dataset
    from monai.transforms import (Compose, EnsureType, LoadImaged, RandFlipd, RandScaleCropd, Resized,
                                  ScaleIntensityd, EnsureChannelFirstd)

    transform = Compose([
        LoadImaged(keys="image", image_only=True),
        EnsureChannelFirstd(keys="image"),
        ScaleIntensityd(keys="image"),
        Resized(keys="image", spatial_size=(256, 256)),
        RandScaleCropd(keys="image", roi_scale=0.5 ** 0.5, max_roi_scale=1.0, random_size=True),
        Resized(keys="image", spatial_size=(image_size, image_size)),
        RandFlipd(keys="image", prob=0.5, spatial_axis=1),
        EnsureType(data_type="tensor", dtype=torch.float32),
    ])
    loader = DataLoader(Dataset([{"image": f} for f in files], transform), batch_size=batch_size,
                        num_workers=workers, shuffle=True)
    count = 0
    start = time.perf_counter()
    for batch in loader:
        count += len(batch["image"]) if isinstance(batch, dict) else len(batch)
    return count / (time.perf_counter() - start)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.path.join(here, "..", "..", "shared", "data")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", action="append", help="image folder(s); default: ../shared/data subsets")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--num-images", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=2, help="runs per pipeline; the best is reported")
    args = parser.parse_args(argv)
    dirs = args.data_dir or [os.path.join(shared, d) for d in DEFAULT_DIRS]
    files = find_files(dirs, args.num_images)
    sizes = sorted({os.path.getsize(f) for f in files})
    print(f"{len(files)} files from {len(dirs)} folders ({sizes[0] // 1024}-{sizes[-1] // 1024} KiB), "
          f"workers={args.workers}, batch={args.batch_size}, output {args.image_size}px")
    results = {}
    for name, fn in (("keras_cxr", run_keras_cxr), ("MONAI", run_monai)):
        try:
            results[name] = max(fn(files, args.workers, args.batch_size, args.image_size) for _ in range(args.repeats))
        except ImportError as error:
            print(f"{name}: not available ({error}); install it with `pip install monai`.")
    print(f"{'pipeline':<12}{'images/s':>10}")
    for name, rate in results.items():
        print(f"{name:<12}{rate:>10.1f}")
    if len(results) == 2:
        print(f"ratio keras_cxr / MONAI: {results['keras_cxr'] / results['MONAI']:.2f}x (goal >= 1.5x)")


if __name__ == "__main__":
    main()
