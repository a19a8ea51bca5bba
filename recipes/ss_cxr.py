"""Paper 001 end to end: GMML pretraining of ViT-S → classification across data shifts → UNETR lung segmentation.

    python recipes/ss_cxr.py --quick                  # synthetic phantom, minutes on a CPU
    python recipes/ss_cxr.py --pretrain-dir COVIDX_CXR3 --classify-dir COVIDX_CXR3 \
        --test-dir pediatric=PEDIATRIC_FOLDER --segmentation-dir SHENZHEN --segmentation-test-dir MONTGOMERY
    python recipes/ss_cxr.py --help                   # every Config field as a flag
"""

import pathlib

from keras_cxr.recipes import main

if __name__ == "__main__":
    main(pathlib.Path(__file__).stem)  # the recipe registered under this file's name (keras_cxr.recipes.RECIPES)
