"""Ensembles: submission CSVs read with pyarrow, rows aligned by id, blended by six methods, and each merge
recorded in the ledger as mK."""

import os

# pyarrow's allocator (mimalloc) hands freed pages back to the OS after 10 ms. A merge frees and allocates the same
# few hundred MB file after file, and faulting them back in cost a fifth of its time on a VM. mimalloc reads this
# when pyarrow loads, which is always after this package: its modules import pyarrow inside their functions.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "1000")
