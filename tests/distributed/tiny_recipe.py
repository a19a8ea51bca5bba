"""Runs recipe `ss_cxr` on its test's tiny phantom preset (tests/recipes/test_ss_cxr.py TINY) into OUT_DIR;
launched as two data-parallel processes by tests/distributed/test_recipe_data_parallel.py.

    python tests/distributed/tiny_recipe.py OUT_DIR
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recipes"))

from test_ss_cxr import TINY  # noqa: E402

from keras_cxr import distributed  # noqa: E402
from keras_cxr.recipes import ss_cxr  # noqa: E402

if __name__ == "__main__":
    metrics = ss_cxr.run(ss_cxr.Config.quick(output_dir=sys.argv[1], **TINY))
    found = distributed.context()
    print("DONE", found.engine, found.rank, sorted(metrics), flush=True)
