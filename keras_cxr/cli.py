"""The `keras-cxr` command: run a paper recipe, validate or apply a saved model, or write the phantom dataset.

Examples::

    keras-cxr vgg16-sharp-unet --quick --output-dir runs/demo
    keras-cxr dual-mae --help
    keras-cxr evaluate --model runs/demo/models/B.keras --data-dir ../shared/data/kermany_pediatric_224 --output-dir runs/external
    keras-cxr predict --model runs/demo/models/B.keras scans/ --output predictions.csv
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


def _evaluate(argv):
    parser = argparse.ArgumentParser(prog="keras-cxr evaluate", description="External validation of a saved model "
                                     "on a labelled folder: metrics with 95 %% CIs, calibration, subgroups by sex, age "
                                     "band and view, report.md and metrics.json.")
    parser.add_argument("--model", required=True, help="a .keras file saved by keras_cxr (it carries its ModelCard)")
    parser.add_argument("--data-dir", required=True, help="any dataset layout keras_cxr reads (labels.csv, Kermany, ...)")
    parser.add_argument("--label-column", default=None, help="the labels.csv column (or class) to evaluate against")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--threshold", type=float, default=None, help="replaces the card's decision threshold")
    parser.add_argument("--temperature", type=float, default=None, help="a temperature fitted on validation data")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-resamples", type=int, default=1000, help="bootstrap resamples of the CIs")
    args = parser.parse_args(argv)
    from keras_cxr.inference import evaluate_model  # the CLI's start-up stays free of keras until a command runs

    metrics = evaluate_model(args.model, args.data_dir, args.output_dir, label_column=args.label_column,
                             threshold=args.threshold, temperature=args.temperature, batch_size=args.batch_size,
                             num_resamples=args.num_resamples)
    for name, row in metrics.get("classes", {}).items():
        print(f"{name}: AUC {row['auc']:.3f} ({row['auc_ci'][0]:.3f}-{row['auc_ci'][1]:.3f}), sensitivity "
              f"{row['sensitivity']:.3f}, specificity {row['specificity']:.3f}")
    print(f"wrote {args.output_dir}/report.md and metrics.json")
    return 0


def _predict(argv):
    parser = argparse.ArgumentParser(prog="keras-cxr predict", description="Class probabilities of a saved model "
                                     "for image files or folders (PNG, JPEG, DICOM), as a CSV.")
    parser.add_argument("--model", required=True, help="a .keras file saved by keras_cxr")
    parser.add_argument("inputs", nargs="+", help="image files and folders")
    parser.add_argument("--output", default="predictions.csv", help="the CSV to write")
    parser.add_argument("--score-cam-dir", default=None, help="write Score-CAM overlays there")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    from keras_cxr.inference import predict_images  # the CLI's start-up stays free of keras until a command runs

    table = predict_images(args.model, args.inputs, args.output, batch_size=args.batch_size,
                           score_cam_dir=args.score_cam_dir)
    print(f"wrote {len(table)} predictions to {args.output}")
    return 0


def main(argv=None):
    """Entry point of the `keras-cxr` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tools = {"phantom": _phantom, "evaluate": _evaluate, "predict": _predict}
    commands = [*tools, *(name.replace("_", "-") for name in RECIPES)]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__.strip())
        print("\ncommands: phantom, evaluate, predict, " + ", ".join(f"{n.replace('_', '-')} (paper {p}: {what})"
                                                for n, (p, what) in RECIPES.items()))
        return 0 if (not argv or argv[0] in ("-h", "--help")) else 2
    command, rest = argv[0], argv[1:]
    if command in tools:
        return tools[command](rest)
    recipe(command).main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
