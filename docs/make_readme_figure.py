"""Redraws the README picture, `docs/images/quick_denoising.png`, from the current code.

The picture is the denoising panel (original / noisy / restored) that `python recipes/vgg16_sharp_unet.py
--quick` writes to `<output_dir>/figures/denoising_examples.png`; redraw it whenever the phantom or the quick
preset changes, so the README shows what the command draws today.

    python docs/make_readme_figure.py                       # runs the quick preset (minutes on a CPU)
    python docs/make_readme_figure.py --run-dir runs/demo   # reuses a finished quick run

It prints the run's Table 2 numbers and its degenerate-model warnings, for the README's caption.
"""

import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "images", "quick_denoising.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", help="a finished `--quick` run folder to reuse (default: run the preset now)")
    parser.add_argument("--output-dir", default="runs/readme_figure", help="where to run the preset (no --run-dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="the PNG to write")
    args = parser.parse_args(argv)

    run_dir = args.run_dir
    if run_dir is None:
        sys.path.insert(0, os.path.dirname(HERE))
        from keras_cxr.recipes import vgg16_sharp_unet

        vgg16_sharp_unet.run(vgg16_sharp_unet.Config.quick(output_dir=args.output_dir, seed=args.seed))
        run_dir = args.output_dir
    source = os.path.join(run_dir, "figures", "denoising_examples.png")
    if not os.path.isfile(source):
        raise SystemExit(f"{source} does not exist: pass --run-dir a finished vgg16_sharp_unet run folder.")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    shutil.copyfile(source, args.output)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(run_dir, "config.json")) as f:
        backend = json.load(f)["_environment"]["keras_backend"]
    print(f"wrote {args.output} from {source} ({backend})")
    for task, scores in metrics["table_2"].items():
        print(f"{task}: PSNR {scores['psnr']:.2f} dB (input {scores['degraded_psnr']:.2f}), "
              f"SSIM {scores['ssim']:.3f} (input {scores['degraded_ssim']:.3f})")
    for warning in metrics.get("warnings", []):
        print(f"warning: {warning}")


if __name__ == "__main__":
    main()
