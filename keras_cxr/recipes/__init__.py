"""One module per paper, end to end, on one skeleton (`keras_cxr.recipes.base`): `Config` (paper defaults with
sources), `quick()`, `run()`, `main()`.

`RECIPES` is the one registry: `keras-cxr <recipe>` and `recipes/<recipe>.py` both read it. Modules are
imported on first use, so `from keras_cxr.recipes import vgg16_sharp_unet` stays cheap.

>>> sorted(RECIPES)
['dual_mae', 'infant_transfer', 'ss_cxr', 'vgg16_sharp_unet']
"""

import importlib

RECIPES = {  # name → (paper, one line)
    "vgg16_sharp_unet": ("003", "VGG-16 Sharp U-Net denoising/deblurring pretext → pediatric classifiers → ensembles"),
    "dual_mae": ("000", "MAE / dual-MAE pretraining on adult CXRs → multi-label pediatric fine-tuning"),
    "infant_transfer": ("002", "CNN autoencoder pretraining → disease + age multitask transfer, eight backbones"),
    "ss_cxr": ("001", "GMML pretraining of ViT-S → classification across data shifts → UNETR lung segmentation"),
}


def recipe(name):
    """The recipe module `name` (dashes allowed: "vgg16-sharp-unet"); a clear error for an unknown one."""
    key = str(name).replace("-", "_")
    if key not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; recipes: {', '.join(sorted(RECIPES))}.")
    return importlib.import_module(f"keras_cxr.recipes.{key}")


def main(name, argv=None):
    """Runs recipe `name` from command-line arguments (every Config field is a `--flag`)."""
    return recipe(name).main(argv)


def __getattr__(name):
    if name in RECIPES:
        return importlib.import_module(f"keras_cxr.recipes.{name}")
    raise AttributeError(f"module 'keras_cxr.recipes' has no attribute {name!r}; recipes: {tuple(RECIPES)}")
