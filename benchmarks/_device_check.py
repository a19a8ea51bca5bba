"""Step 2 of benchmarks/gpu_check.sh: does the current Keras backend (KERAS_BACKEND) see and use the GPU?

    KERAS_BACKEND=torch python benchmarks/_device_check.py --want gpu
    KERAS_BACKEND=tensorflow python benchmarks/_device_check.py --want cpu

Prints the framework's build (CUDA, cuDNN), the GPUs it lists, and runs a Keras matmul in float32 and bfloat16
(TensorFlow: also one under XLA); with `--want gpu` it fails (exit 1) when the matmul did not run on a GPU.
"""

import argparse
import os
import sys


def _torch_report(want_gpu):
    import torch

    print("torch", torch.__version__, "| CUDA build", torch.version.cuda, "| cuDNN", torch.backends.cudnn.version())
    print("torch.cuda.is_available():", torch.cuda.is_available(), "| device_count:", torch.cuda.device_count())
    if torch.cuda.is_available():
        print("device:", torch.cuda.get_device_name(0), "| capability", torch.cuda.get_device_capability(0),
              "| bf16 supported:", torch.cuda.is_bf16_supported())
        print("TF32: matmul.allow_tf32", torch.backends.cuda.matmul.allow_tf32, "| cudnn.allow_tf32",
              torch.backends.cudnn.allow_tf32, "| float32_matmul_precision", torch.get_float32_matmul_precision())
    return lambda device: "cuda" in str(device)


def _tensorflow_report(want_gpu):
    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    print("tensorflow", tf.__version__, "| built with CUDA", tf.test.is_built_with_cuda(), "| CUDA",
          info.get("cuda_version"), "| cuDNN", info.get("cudnn_version"))
    gpus = tf.config.list_physical_devices("GPU")
    print('tf.config.list_physical_devices("GPU"):', gpus)
    for gpu in gpus:
        print(" ", tf.config.experimental.get_device_details(gpu))
    print("TF32 execution enabled:", tf.config.experimental.tensor_float_32_execution_enabled())
    if want_gpu and not gpus:
        raise AssertionError("TensorFlow sees no GPU")
    xla = tf.function(lambda a: tf.matmul(a, a), jit_compile=True)(tf.ones((512, 512)))
    print("XLA matmul on", xla.device, float(xla[0, 0]))
    if float(xla[0, 0]) != 512.0 or (want_gpu and "GPU" not in xla.device):
        raise AssertionError(f"the XLA matmul gave {float(xla[0, 0])} on {xla.device}")
    return lambda device: "GPU" in str(device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--want", choices=("gpu", "cpu"), default=os.environ.get("GPU_CHECK_WANT", "gpu"))
    args = parser.parse_args(argv)
    want_gpu = args.want == "gpu"
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    on_gpu = {"torch": _torch_report, "tensorflow": _tensorflow_report}[backend](want_gpu)

    import keras
    from keras import ops

    for dtype in ("float32", "bfloat16"):
        x = ops.ones((1024, 1024), dtype=dtype)
        y = ops.matmul(x, x)
        value = float(ops.convert_to_numpy(ops.cast(y[0, 0], "float32")))
        print(f"keras {keras.__version__} ({keras.backend.backend()}) {dtype} matmul on {y.device}: {value}")
        if value != 1024.0:
            raise AssertionError(f"the {dtype} matmul gave {value}, not 1024")
        if want_gpu and not on_gpu(y.device):
            raise AssertionError(f"the Keras matmul ran on {y.device}, not the GPU")
    print("OK", backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
