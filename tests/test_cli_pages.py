"""The command line turns numpy's transparent huge pages off unless the user chose."""

import os
import subprocess
import sys

import pytest

CHECK = ("import os\nfrom physdiff.cli import main\ntry:\n    main(['--version'])\n"
         "except SystemExit:\n    pass\nprint(os.environ['NUMPY_MADVISE_HUGEPAGE'])")
PROBE = ("import sys; from physdiff.cli import small_pages; r = small_pages(); "
         "from numpy._core.multiarray import _set_madvise_hugepage as f; "
         "import os; print(r, f(True), os.environ.get('NUMPY_MADVISE_HUGEPAGE'))")


@pytest.mark.parametrize("env, expected", [(None, "True False 0"), ("1", "False True 1"),
                                           ("0", "False False 0")])
def test_small_pages_respects_the_users_choice(env, expected):
    pytest.importorskip("numpy._core.multiarray")
    environ = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if env is not None:
        environ["NUMPY_MADVISE_HUGEPAGE"] = env
    out = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True,
                         text=True, check=True).stdout.split()
    assert " ".join(out) == expected


def test_the_console_entry_point_calls_it():
    environ = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    res = subprocess.run([sys.executable, "-c", CHECK], env=environ, capture_output=True,
                         text=True, check=True)
    # --version exits through SystemExit after printing; the switch ran before parsing
    assert res.stdout.split()[-1:] == ["0"] and "physdiff" in res.stdout
