"""Trains a tiny MAE and a tiny ViT classifier a few steps and saves their weights; run it as one process,
as `torchrun --nproc-per-node 2` ranks, or as two TensorFlow workers (TF_CONFIG). Used by
tests/distributed/test_data_parallel.py, which compares the runs' weights.

    python tests/distributed/tiny_training.py OUT_DIR
"""

import os
import sys

import numpy as np


def main(out_dir):
    import keras
    keras.config.disable_traceback_filtering()

    from keras_cxr import distributed
    from keras_cxr.models import MAE, vit
    from keras_cxr.optimizers import AdamW

    found = distributed.initialize("auto")
    scope = found.strategy.scope() if found.strategy is not None else _nothing()
    rng = np.random.default_rng(0)
    x = rng.random((32, 32, 32, 1)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 3, 32), 3).astype("float32")
    keras.utils.set_random_seed(0)
    with scope:
        mae = MAE(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=16,
                  decoder_depth=1, decoder_num_heads=2, seed=0)
        mae(x[:2])
        mae.compile(optimizer=AdamW(1e-3, weight_decay=0.05), jit_compile=False)
        classifier = vit(input_shape=(32, 32, 1), num_classes=3, head_activation="softmax", patch_size=8, embed_dim=32,
                         depth=1, num_heads=2, mlp_dim=64)
        classifier.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy", jit_compile=False)
    # The same global batches of 8 in every mode, in a fixed order (one process: Keras' array adapter;
    # distributed: keras_cxr.distributed.ArrayBatches, each rank or worker reading its rows).
    distributed.fit(mae, x, batch_size=8, shuffle=False, epochs=2, verbose=0)
    distributed.fit(classifier, x, y, batch_size=8, shuffle=False, epochs=2, verbose=0)
    if found.is_chief:
        os.makedirs(out_dir, exist_ok=True)
        for name, model in (("mae", mae), ("classifier", classifier)):
            weights = {v.path: keras.ops.convert_to_numpy(v.value) for v in model.trainable_variables}
            np.savez(os.path.join(out_dir, f"{name}.npz"), **weights)
    print("DONE", found.engine, found.rank, found.num_processes, int(keras.ops.convert_to_numpy(classifier.optimizer.iterations.value)), flush=True)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *args):
        return False


if __name__ == "__main__":
    main(sys.argv[1])
