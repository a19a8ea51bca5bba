"""The `keras-cxr` command: run a paper recipe or write the synthetic phantom dataset.

Examples::

    keras-cxr vgg16-sharp-unet --quick --output-dir runs/demo
    keras-cxr dual-mae --help
    keras-cxr phantom --num-images 200 --output-dir phantom_cxr
"""

import argparse
import sys

from keras_cxr.recipes import RECIPES, recipe


def _phantom(argv):
    parser = argparse.ArgumentParser(prog="keras-cxr phantom", description="Write the synthetic CXR phantom "
                                     "as PNG files plus labels.csv (the layout of the shared data folders).")
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args(argv)
    from keras_cxr.data import make_phantom_dataset

    dataset = make_phantom_dataset(args.num_images, image_size=args.image_size, seed=args.seed)
    dataset.save(args.output_dir)
    print(f"wrote {args.num_images} phantom CXRs and labels.csv to {args.output_dir}")
    return 0


def main(argv=None):
    """Entry point of the `keras-cxr` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ["phantom", *(name.replace("_", "-") for name in RECIPES)]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__.strip())
        print("\ncommands: phantom, " + ", ".join(f"{n.replace('_', '-')} (paper {p}: {what})"
                                                for n, (p, what) in RECIPES.items()))
        return 0 if (not argv or argv[0] in ("-h", "--help")) else 2
    command, rest = argv[0], argv[1:]
    if command == "phantom":
        return _phantom(rest)
    recipe(command).main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
