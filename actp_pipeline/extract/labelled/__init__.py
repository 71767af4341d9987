"""The labelled caption set the learned extraction trains and is scored on (captions.jsonl), its guide
and provenance, and the builder that wrote it (build.py, run once by hand: `python -m
actp_pipeline.extract.labelled.build`)."""
