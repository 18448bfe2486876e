"""Ensembles: submission CSVs read with pyarrow, rows aligned by id, blended by six methods, and each merge
recorded in the ledger as mK."""
