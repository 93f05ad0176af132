"""Data preparation: readers (every input format -> canonical `Sample`s), AST validation, LLM judge,
dedup and the `funrl prepare` pipeline.

    from funrl.data.readers import read_source
    for item in read_source("xlam.jsonl", "xlam"):
        ...  # item.samples or item.rejection

Importing this package loads no torch/transformers/trl (and no `datasets` until a dataset is read).
"""
