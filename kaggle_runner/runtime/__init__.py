"""kaggle_runner.runtime: the kernel side of kr, one training loop for TPU cores, GPUs and the CPU.
Imported inside kernels only (it imports torch at once); the kr CLI never imports it."""

from kaggle_runner.runtime import losses, metrics, report
from kaggle_runner.runtime.data import Columns
from kaggle_runner.runtime.debug import may_debug
from kaggle_runner.runtime.devices import AcceleratorMissing, launch
from kaggle_runner.runtime.inputs import competition_dir, input_dir, kernel_dir
from kaggle_runner.runtime.models import tiny_bert
from kaggle_runner.runtime.params import params
from kaggle_runner.runtime.proc import Proc
from kaggle_runner.runtime.submission import write_submission
from kaggle_runner.runtime.train import History, fit, predict

__all__ = [
    "AcceleratorMissing",
    "Columns",
    "History",
    "competition_dir",
    "Proc",
    "fit",
    "input_dir",
    "kernel_dir",
    "launch",
    "losses",
    "may_debug",
    "metrics",
    "params",
    "predict",
    "report",
    "tiny_bert",
    "write_submission",
]
