"""Dataset indexes for published CXR layouts, one file per dataset, behind one detection table.

Kermany (`kermany.py`), VinDr-PCXR (`vindr_pcxr.py`), ChestX-ray14 (`nih_cxr14.py`), CheXpert
(`chexpert.py`), COVIDx (`covidx.py`), Montgomery / Shenzhen (`tuberculosis.py`),
labels.csv folders (`labels_csv.py`), image and class folders
(`folder.py`), image + mask folders (`segmentation.py`). Each returns a `DatasetIndex`; nothing is
downloaded. `index_any` picks the loader from the table in `detect.py` (`LAYOUTS`, in priority order).

Every loader validates the layout and raises `DatasetLayoutError` (a `ValueError`) listing what is wrong:
missing columns, unknown labels, missing image files (the first 10 and the count).
"""

from keras_cxr.data.layouts._common import IMAGE_EXTENSIONS, MASK_EXTENSIONS, Layout
from keras_cxr.data.layouts.folder import index_folder, index_unlabeled
from keras_cxr.data.layouts.kermany import index_kermany, kermany_patient_id
from keras_cxr.data.layouts.nih_cxr14 import NIH_CXR14_CLASSES, index_nih_cxr14
from keras_cxr.data.layouts.labels_csv import index_labels_csv
from keras_cxr.data.layouts.vindr_pcxr import (PEDICXR_6_CLASSES, PEDICXR_RARE_FINDINGS, index_vindr_pcxr,
                                               read_vindr_boxes)
from keras_cxr.data.layouts.chexpert import CHEXPERT_CLASSES, index_chexpert
from keras_cxr.data.layouts.covidx import COVIDX_CLASS_SETS, covidx_split_files, index_covidx, split_sources
from keras_cxr.data.layouts.tuberculosis import index_tuberculosis, read_clinical_reading
from keras_cxr.data.layouts.segmentation import (find_segmentation_folders, index_segmentation,
                                                 index_segmentation_pairs, read_mask)
from keras_cxr.data.layouts.detect import (LAYOUTS, binary_index, detect_layout, index_any, register_layout,
                                           unregister_layout)
from keras_cxr.data.layouts.official_splits import index_with_official_split, official_test_split
from keras_cxr.data.readers import image_size_from_header
