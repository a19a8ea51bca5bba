"""dtype_policy="auto": the fast policy of the device, decided from the GPU's capability or the CPU's flags."""

import keras
import pytest

from keras_cxr.recipes import _dtype_policy
from keras_cxr.recipes._dtype_policy import dtype_policy_scope, resolve_dtype_policy


@pytest.mark.parametrize("capability, flags, expected", [
    ((9, 0), set(), "mixed_bfloat16"),  # H100
    ((8, 0), set(), "mixed_bfloat16"),  # A100
    ((7, 5), {"avx512_bf16"}, "mixed_float16"),  # T4: the GPU decides, not the host CPU
    ((6, 0), set(), "mixed_float16"),  # P100
    (None, {"amx_bf16", "avx2"}, "mixed_bfloat16"),  # Sapphire Rapids CPU
    (None, {"avx512_bf16"}, "mixed_bfloat16"),  # Zen 4 CPU
    (None, {"avx2", "avx512f"}, "float32"),
])
def test_auto_resolves_per_device(monkeypatch, capability, flags, expected):
    monkeypatch.setattr(_dtype_policy, "_gpu_capability", lambda: capability)
    monkeypatch.setattr(_dtype_policy, "_cpu_flags", lambda: flags)
    assert resolve_dtype_policy("auto") == expected
    before = keras.config.dtype_policy().name
    with dtype_policy_scope("auto") as resolved:
        assert resolved == expected == keras.config.dtype_policy().name
    assert keras.config.dtype_policy().name == before


def test_explicit_policies_and_errors():
    assert resolve_dtype_policy("mixed_float16") == "mixed_float16"
    with pytest.raises(ValueError, match="'auto' or one of"):
        resolve_dtype_policy("bfloat16")
