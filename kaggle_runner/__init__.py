"""kaggle_runner: the `kr` command-line tool and its local Kaggle emulator.
Heavy libraries (torch, pyarrow, matplotlib) are imported only by the functions that need them."""

__version__ = "0.1.0"
