"""Decode → resize → augment throughput: keras_cxr's input pipeline vs an equivalent MONAI chain, in one run.

Both read the same real files (PNG/JPEG), scale them to [0, 1], resize to 256 x 256, take a random resized
crop to --image-size (area 0.5–1; paper 000 §III.B) and flip horizontally at random, and deliver shuffled
float32 batches of --batch-size single-channel images, with the same number of workers:

- keras_cxr: `make_dataset(files, augment=MAEPretrainAugmentation(...))`, iterated the way `model.fit`
  consumes it (batches prepared by --workers threads, in order, with a prefetch queue).
- MONAI: LoadImaged → EnsureChannelFirstd → ScaleIntensityd → Resized(256) → RandScaleCropd →
  Resized(224) → RandFlipd in `monai.data.DataLoader(num_workers=--workers, persistent_workers=True)`
  (worker processes, started once, not per pass).

Each pipeline runs --repeats full passes over the files, alternating keras_cxr / MONAI; the table shows
the best and median images/s and their ratio.

    python benchmarks/data_pipeline.py                        # ../shared/data folders, 2 workers
    python benchmarks/data_pipeline.py --data-dir DIR --workers 4 --num-images 2000 --repeats 3

MONAI is an optional peer (`pip install -e ".[bench]"`); the library never imports it.
"""

import argparse
import glob
import itertools
import os
import platform
import statistics
import time

import numpy as np

DEFAULT_DIRS = ["kermany_pediatric_224", "jsrt_scr_segmentation", "actualmed_covid", "figure1_covid"]
RESIZE_TO = 256
SCALE = (0.5, 1.0)


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


def make_keras_cxr(files, workers, batch_size, image_size, seed):
    from keras_cxr.data import MAEPretrainAugmentation, make_dataset

    data = make_dataset(files, image_size=image_size, batch_size=batch_size, num_workers=workers, target=None,
                        augment=MAEPretrainAugmentation(image_size=image_size, resize_to=RESIZE_TO, scale=SCALE),
                        shuffle=True, seed=seed)

    def epoch():
        count, shape = 0, None
        for (batch,) in data:
            count += len(batch)
            shape = batch.shape
        data.on_epoch_end()
        return count, shape

    return epoch


def make_monai(files, workers, batch_size, image_size, seed):
    import torch
    from monai.data import DataLoader, Dataset
    from monai.transforms import (Compose, EnsureChannelFirstd, EnsureTyped, LoadImaged, RandFlipd, RandScaleCropd,
                                  Resized, ScaleIntensityd)

    transform = Compose([
        LoadImaged(keys="image", image_only=True),
        EnsureChannelFirstd(keys="image"),
        ScaleIntensityd(keys="image"),
        Resized(keys="image", spatial_size=(RESIZE_TO, RESIZE_TO)),
        # Side fractions sqrt(0.5)..1 → area 0.5..1 (aspect ratio free, as close as MONAI gets to RRC).
        RandScaleCropd(keys="image", roi_scale=SCALE[0] ** 0.5, max_roi_scale=1.0, random_size=True),
        Resized(keys="image", spatial_size=(image_size, image_size)),
        RandFlipd(keys="image", prob=0.5, spatial_axis=1),
        EnsureTyped(keys="image", data_type="tensor", dtype=torch.float32, track_meta=False),
    ])
    transform.set_random_state(seed)
    loader = DataLoader(Dataset([{"image": f} for f in files], transform), batch_size=batch_size,
                        num_workers=workers, shuffle=True, persistent_workers=workers > 0)

    def epoch():
        count, shape = 0, None
        for batch in loader:
            count += len(batch["image"])
            shape = tuple(batch["image"].shape)
        return count, shape

    return epoch


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.path.join(here, "..", "..", "shared", "data")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", action="append", help="image folder(s), repeatable; default: ../shared/data")
    parser.add_argument("--workers", type=int, default=2, help="workers of both pipelines")
    parser.add_argument("--num-images", type=int, default=600, help="images per pass (files repeated if fewer)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per pipeline")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    dirs = args.data_dir or [os.path.join(shared, d) for d in DEFAULT_DIRS]
    files = find_files(dirs, args.num_images)
    sizes = sorted({os.path.getsize(f) for f in files})
    print(f"{len(files)} files from {len(dirs)} folder(s) ({sizes[0] // 1024}-{sizes[-1] // 1024} KiB), "
          f"workers={args.workers}, batch={args.batch_size}, resize {RESIZE_TO} → random resized crop "
          f"{args.image_size} (area {SCALE[0]}-{SCALE[1]}) → flip; {os.cpu_count()} CPUs, {platform.processor()}")
    pipelines = {}
    for name, factory in (("keras_cxr", make_keras_cxr), ("MONAI", make_monai)):
        try:
            pipelines[name] = factory(files, args.workers, args.batch_size, args.image_size, args.seed)
        except ImportError as error:
            print(f"{name}: not available ({error}); install it with `pip install -e \".[bench]\"`.")
    rates = {name: [] for name in pipelines}
    shapes = {}
    for repeat in range(args.repeats):
        for name, epoch in pipelines.items():
            start = time.perf_counter()
            count, shapes[name] = epoch()
            rates[name].append(count / (time.perf_counter() - start))
            print(f"  pass {repeat + 1} {name:<10} {rates[name][-1]:8.1f} images/s")
    print()
    print(f"{'pipeline':<11}{'best img/s':>12}{'median img/s':>14}   batch shape")
    for name, values in rates.items():
        print(f"{name:<11}{max(values):>12.1f}{statistics.median(values):>14.1f}   {shapes[name]}")
    if len(rates) == 2:
        best = max(rates["keras_cxr"]) / max(rates["MONAI"])
        median = statistics.median(rates["keras_cxr"]) / statistics.median(rates["MONAI"])
        print(f"ratio keras_cxr / MONAI: {best:.2f}x best, {median:.2f}x median (goal >= 1.5x)")


if __name__ == "__main__":
    main()
