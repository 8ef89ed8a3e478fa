"""The results of a study: the Parquet tables and their store, the study record, provenance.
No Ray here."""
