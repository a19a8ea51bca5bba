"""keras_cxr.data."""
from keras_cxr.data.readers import ImageReadError, read_image
from keras_cxr.data.phantom import FINDINGS, PhantomDataset, make_phantom_dataset
from keras_cxr.data.transforms import (crop_and_resize, lung_bbox, lung_bbox_crop, normalize_imagenet, resize,
                                       to_rgb, to_unit_range)
from keras_cxr.data.degradations import (BLUR_KERNEL_SIZES, NOISE_VARIANCE_FACTORS, add_gaussian_noise,
                                         degrade_batch, gaussian_blur)
from keras_cxr.data.loading import load_images
