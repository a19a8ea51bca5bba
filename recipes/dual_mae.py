"""Paper 000 end to end: MAE and dual-MAE pretraining on adult CXRs → multi-label pediatric fine-tuning.

    python recipes/dual_mae.py --quick                 # synthetic phantom, minutes on a CPU
    python recipes/dual_mae.py --pretrain-dir NIH_OR_CHEXPERT --finetune-dir VINDR_PCXR
    python recipes/dual_mae.py --pretrain-dir ADULT_DIR --finetune-dir LABELS_CSV_DIR --finetune-label-column finding_labels
    python recipes/dual_mae.py --help                  # every Config field as a flag
"""

import pathlib

from keras_cxr.recipes import main

if __name__ == "__main__":
    main(pathlib.Path(__file__).stem)  # the recipe registered under this file's name (keras_cxr.recipes.RECIPES)
