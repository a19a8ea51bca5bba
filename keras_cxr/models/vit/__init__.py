from keras_cxr.models.vit.vit import PRESETS, TokenPooling, ViT, vit, vit_base, vit_small, vit_tiny
from keras_cxr.models.vit.torch_checkpoint import (DEFAULT_NUM_HEADS, TorchViTCheckpoint, load_torch_vit_checkpoint,
                                                  read_torch_vit_checkpoint, resample_position_embedding,
                                                  vit_from_torch_checkpoint)
