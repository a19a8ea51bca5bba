"""keras_cxr.data."""
from keras_cxr.data.readers import ImageReadError, read_image
from keras_cxr.data.boxes import Box, as_box, box_coordinates, crop_boxes, resize_boxes
from keras_cxr.data.phantom import (DEFAULT_PREVALENCE, FINDINGS, PhantomDataset, make_phantom_dataset,
                                    normal_cardiothoracic_ratio)
from keras_cxr.data.transforms import (crop_and_resize, denormalize_imagenet, lung_bbox, lung_bbox_crop,
                                       normalize_imagenet, resize, to_rgb, to_unit_range)
from keras_cxr.data.degradations import (BLUR_KERNEL_SIZES, NOISE_VARIANCE_FACTORS, DegradationTarget,
                                         add_gaussian_noise, degrade_batch, gaussian_blur, random_blur, random_noise)
from keras_cxr.data.loading import load_images
from keras_cxr.data.index import FRONTAL_VIEWS, DatasetIndex, DatasetLayoutError, parse_age
from keras_cxr.data.layouts import (CHEXPERT_CLASSES, NIH_CXR14_CLASSES, PEDICXR_6_CLASSES, PEDICXR_RARE_FINDINGS,
                                    covidx_split_files, index_any, index_chexpert, index_covidx, index_folder,
                                    index_kermany,
                                    index_labels_csv, index_nih_cxr14, index_segmentation_pairs, index_unlabeled,
                                    index_vindr_pcxr, kermany_patient_id, read_mask, read_vindr_boxes,
                                    image_size_from_header, split_sources, find_segmentation_folders,
                                    index_segmentation, index_tuberculosis, read_clinical_reading)
from keras_cxr.data.layouts import LAYOUTS, Layout, detect_layout, register_layout, unregister_layout
from keras_cxr.data.sources import index_sources
from keras_cxr.data.splits import label_fraction_subsets, patient_split, patient_split_indices
from keras_cxr.data.augment import (MAEPretrainAugmentation, mae_pretrain_augmentation, random_resized_crop,
                                    randaugment)
from keras_cxr.data.pipeline import CXRDataset, make_dataset, preprocess_to_cache
from keras_cxr.data.phantom_source import cache_root, phantom_folder, phantom_index
from keras_cxr.data.label_tasks import (CLASSIFICATION_TASKS, canonical_label, canonical_labels,
                                        phantom_canonical_labels, task_index)
