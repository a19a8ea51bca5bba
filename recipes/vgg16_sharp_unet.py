"""Paper 003 end to end: VGG-16 Sharp U-Net denoising/deblurring pretext → pediatric CXR classifiers → ensembles.

    python recipes/vgg16_sharp_unet.py --quick                  # synthetic phantom, minutes on a CPU
    python recipes/vgg16_sharp_unet.py --pretext-dir KERMANY --classify-dir VINDR_PCXR
    python recipes/vgg16_sharp_unet.py --help                   # every Config field as a flag
"""

import pathlib

from keras_cxr.recipes import main

if __name__ == "__main__":
    main(pathlib.Path(__file__).stem)  # the recipe registered under this file's name (keras_cxr.recipes.RECIPES)
