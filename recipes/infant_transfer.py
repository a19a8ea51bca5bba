"""Paper 002 end to end: CNN autoencoder pretraining → disease + age multitask transfer, eight backbones, ablations.

    python recipes/infant_transfer.py --quick                 # synthetic phantom, minutes on a CPU
    python recipes/infant_transfer.py --pretrain-dir ADULT_DIR INFANT_DIR --transfer-dir LABELS_CSV_DIR \
        --label-column label --age-column age --age-unit months --backbones resnet50 densenet121
    python recipes/infant_transfer.py --help                  # every Config field as a flag
"""

import pathlib

from keras_cxr.recipes import main

if __name__ == "__main__":
    main(pathlib.Path(__file__).stem)  # the recipe registered under this file's name (keras_cxr.recipes.RECIPES)
