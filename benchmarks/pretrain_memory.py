"""Peak memory of dual_mae pretraining on 2,000 vs 20,000 images: streaming from disk (the recipe) vs the
in-memory float32 array the recipes used before (`load_images`), and the pipeline's images/s vs training's.

For each dataset size and mode a child process (so peak RSS is its own) runs the dual_mae recipe's
pretraining stage — `dual_mae.pretrain(config, load_data(config), "dual_mae", 0.75)` with the quick preset's
ViT (64 px input from 72 px loads) — for --steps batches, then prints its peak RSS (`ru_maxrss`):

- `stream`: the recipe as it is: a `DatasetIndex` over the files, decoded per batch by `make_dataset`'s
  worker threads;
- `cache`: the recipe with `image_cache=True`: every file decoded once into the reusable uint8 memmap
  cache (on disk, paged in as needed), batches read from it;
- `array`: the old hand-off: every image decoded into one (N, 72, 72, 1) float32 array first, then
  `make_dataset(array)` (what the recipes did before the skeleton).

Then, in the parent, the streaming pipeline alone (no model) is timed over --steps batches and compared with
the training step rate measured in the `stream` child: the pipeline must feed training at least as fast
as training consumes it.

The folder holds --num-images distinct file names (hard links to --unique phantom PNGs drawn at
--load-size, so building 20,000 files takes seconds); decoding cost is the same as for distinct files.

    python benchmarks/pretrain_memory.py                      # 2,000 and 20,000 images, torch or tf backend
    python benchmarks/pretrain_memory.py --sizes 2000 20000 100000 --steps 20

Measured 2026-12-02 on this project's 2-core AMD EPYC (AVX-512 bf16, no AMX), default arguments (400 unique
images at 72 px behind the links, 12 steps of batch 32), peak RSS in MB / training images/s:

| images | stream (torch) | cache (torch) | array (torch) | stream (TF) | array (TF) |
|---|---|---|---|---|---|
| 2,000 | 936 / 571 | 945 / 563 | 978 / 633 | 918 / 516 | 957 / 687 |
| 20,000 | 944 / 623 | 1021 / 568 | 1337 / 527 | 924 / 444 | 1315 / 391 |
| growth | +9 MB | +77 MB (memmap pages) | +359 MB | +6 MB | +358 MB |

The streaming pipeline alone delivers 2,871 (torch) / 2,839 (TF) images/s, 4.5x / 4.1x the fastest training
rate; the training rates are noisy at 12 steps (another job shared the machine), so only their order of
magnitude is meant. The array mode's growth is the float32 array: 18,000 × 72 × 72 × 4 bytes = 373 MB here,
79 GB for paper 000's 303k images at 256 px.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np
import keras
from keras_cxr.recipes import dual_mae

folder, out, mode, steps, image_cache = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
config = dual_mae.Config.quick(output_dir=out, pretrain_dir=(folder,), pretrain_epochs=1, verbose=0,
                               image_cache=image_cache, cache_dir=out + "/cache", resume=False)

class Stop(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            self.start = time.perf_counter()
    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 >= steps:
            self.rate = (batch - 1) * config.pretrain_batch_size / (time.perf_counter() - self.start)
            self.model.stop_training = True

data = dual_mae.load_data(config)
if mode == "array":  # the old hand-off: one float32 array of every image
    from keras_cxr.data import load_images
    data["pretrain"] = load_images(data["pretrain"].paths, image_size=config.resize_to, progress=False)
stop = Stop()
dual_mae.pretrain(config, data, "dual_mae", 0.75, callbacks=[stop])
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "train_images_per_s": stop.rate}))
"""


def build_folder(root, num_images, unique, load_size, seed=0):
    """`root/images` with num_images file names, hard links to `unique` phantom images (labels.csv-free)."""
    from keras_cxr.data import phantom_folder

    source = os.path.join(phantom_folder(unique, load_size, seed=seed, age_range=(18.0, 90.0)), "images")
    names = sorted(os.listdir(source))
    target = os.path.join(root, f"adult_{num_images}")
    os.makedirs(target, exist_ok=True)
    for i in range(num_images):
        path = os.path.join(target, f"{i:07d}.png")
        if not os.path.exists(path):
            os.link(os.path.join(source, names[i % len(names)]), path)
    return target


def pipeline_rate(folder, steps, batch_size, image_size, resize_to):
    """Images/s of the recipe's streaming pretraining pipeline alone (no model), as `fit` iterates it."""
    from keras_cxr.data import MAEPretrainAugmentation, index_any, make_dataset

    data = make_dataset(index_any(folder), image_size=image_size, batch_size=batch_size, target=None,
                        augment=MAEPretrainAugmentation(image_size, resize_to, (0.5, 1.0)), normalize="imagenet")
    count, start = 0, None
    for i, (batch,) in enumerate(data):
        if i == 2:
            start, count = time.perf_counter(), 0
        count += len(batch)
        if i + 1 >= steps + 2:
            break
    return count / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--modes", nargs="+", default=["stream", "cache", "array"],
                        choices=["stream", "array", "cache"])
    parser.add_argument("--steps", type=int, default=12, help="training batches per child (batch 32)")
    parser.add_argument("--unique", type=int, default=400, help="distinct phantom images behind the links")
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "keras_cxr_memory_bench"))
    args = parser.parse_args(argv)
    import keras

    from keras_cxr.recipes import dual_mae

    quick = dual_mae.Config.quick()
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
          f"quick ViT {quick.embed_dim}-d x {quick.depth}, {quick.image_size} px from {quick.resize_to} px loads, "
          f"batch {quick.pretrain_batch_size}, {args.steps} steps")
    rows = []
    for size in args.sizes:
        folder = build_folder(args.root, size, args.unique, quick.resize_to)
        for mode in args.modes:
            out = tempfile.mkdtemp(prefix=f"run_{mode}_{size}_", dir=args.root)
            child = [sys.executable, "-c", CHILD, folder, out, "array" if mode == "array" else "stream",
                     str(args.steps), "1" if mode == "cache" else "0"]
            done = subprocess.run(child, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-3000:])
                raise SystemExit(f"{mode} on {size} images failed")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append((size, mode, result["peak_rss_mb"], result["train_images_per_s"]))
            print(f"  {size:>7} images  {mode:<7} peak RSS {result['peak_rss_mb']:8.0f} MB   training "
                  f"{result['train_images_per_s']:6.1f} images/s", flush=True)
    feed = pipeline_rate(build_folder(args.root, args.sizes[-1], args.unique, quick.resize_to), args.steps,
                         quick.pretrain_batch_size, quick.image_size, quick.resize_to)
    print()
    print(f"{'images':>8} {'mode':<7} {'peak RSS MB':>12} {'train img/s':>12}")
    for size, mode, rss, rate in rows:
        print(f"{size:>8} {mode:<7} {rss:>12.0f} {rate:>12.1f}")
    for mode in args.modes:
        peaks = [rss for _, m, rss, _ in rows if m == mode]
        print(f"{mode}: peak RSS grows by {peaks[-1] - peaks[0]:+.0f} MB from {args.sizes[0]} to {args.sizes[-1]} "
              f"images (goal for the recipe's streaming path: within ±300 MB)")
    train = max(rate for *_, rate in rows)
    print(f"streaming pipeline alone: {feed:.1f} images/s vs the fastest training {train:.1f} images/s "
          f"({feed / train:.2f}x; goal >= 1x). On few cores, decoding inside fit shares them with training: "
          "compare the stream and cache rows.")


if __name__ == "__main__":
    main()
