"""Judged grades: reading a judgments folder and attaching grades to held-out rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.training.errors import DatasetError
from assay.training.judgments import (
    NOT_JUDGED,
    judged_labels,
    judgment_files,
    load_judgments,
)


def write(folder, name, **columns):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_parquet(folder / name, index=False)


def test_queries_are_normalised_and_a_pair_judged_twice_keeps_its_best_grade(tmp_path):
    write(tmp_path, "relevance_2026-11-01.parquet", query=["Grey  Sofa", "grey sofa", "TV"],
          product_id=["P1", "P1", "P2"], grade=[1, 3, 0], session_id=["s1", "s2", "s3"])
    write(tmp_path, "judgments_extra.parquet", query=["tv"], product_id=["P2"], grade=[2])
    (tmp_path / "defects.json").write_text("{}")  # other files in the folder are not judgments
    got = load_judgments(tmp_path)
    assert got.to_dict("records") == [
        {"query": "grey sofa", "product_id": "P1", "grade": 3},
        {"query": "tv", "product_id": "P2", "grade": 2},
    ]
    assert [p.name for p in judgment_files(tmp_path)] == ["judgments_extra.parquet", "relevance_2026-11-01.parquet"]


def test_no_folder_means_no_judgments(tmp_path):
    assert load_judgments(tmp_path / "missing").empty
    frame = pd.DataFrame({"query": ["tv"], "product_id": ["P2"]})
    assert judged_labels(frame, load_judgments(tmp_path / "missing")).tolist() == [NOT_JUDGED]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"query": ["tv"], "product_id": ["P1"], "grade": [4]}, r"grade must be 0\.\.3, got 4 \(row 0"),
        ({"query": ["tv"], "product_id": ["P1"], "grade": ["high"]}, "grade must be 0..3, got 'high'"),
        ({"query": ["tv"], "product_id": ["P1"]}, "missing column.*grade"),
    ],
)
def test_a_bad_file_is_an_error_naming_it(tmp_path, columns, message):
    write(tmp_path, "judgments_bad.parquet", **columns)
    with pytest.raises(DatasetError, match=message) as err:
        load_judgments(tmp_path)
    assert "judgments_bad.parquet" in str(err.value)


def test_an_unreadable_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "judgments_x.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="judgments_x.parquet: cannot be read"):
        load_judgments(tmp_path)


def test_rows_get_their_judged_grade_or_not_judged(tmp_path):
    write(tmp_path, "judgments.parquet", query=["tv", "tv", "sofa"], product_id=["P1", "P2", "P1"], grade=[3, 0, 1])
    frame = pd.DataFrame({"query": ["tv", "tv", "sofa", "sofa"], "product_id": ["P2", "P1", "P1", "P9"]})
    labels = judged_labels(frame, load_judgments(tmp_path))
    assert labels.dtype == np.int8 and labels.tolist() == [0, 3, 1, NOT_JUDGED]
