"""One module per paper, end to end: `Config` (paper defaults with sources), `quick()`, `run()`, `main()`.

Modules are imported on first use, so `from keras_cxr.recipes import vgg16_sharp_unet` stays cheap.
"""

import importlib

_RECIPES = ("vgg16_sharp_unet", "dual_mae")


def __getattr__(name):
    if name in _RECIPES:
        return importlib.import_module(f"keras_cxr.recipes.{name}")
    raise AttributeError(f"module 'keras_cxr.recipes' has no attribute {name!r}; recipes: {_RECIPES}")
