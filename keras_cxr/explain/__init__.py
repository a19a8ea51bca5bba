"""keras_cxr.explain."""
from keras_cxr.explain.boxes import box_iou
from keras_cxr.explain.boxes import boxes_from_maps
from keras_cxr.explain.boxes import max_iou
from keras_cxr.explain.score_cam import score_cam
from keras_cxr.explain.attention import attention_rollout
from keras_cxr.explain.attention import attention_weights
from keras_cxr.explain.attention import class_token_attention
