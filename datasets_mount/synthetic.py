"""A synthetic, de-identified demo cohort generated from code (no data is downloaded)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

REGIONS = ["北京", "上海", "广东", "四川", "湖北", "浙江", "江苏", "山东"]
DIAGNOSES = ["E11", "I10", "J45", "C34", "I25", "N18", "F32", "K21"]


def cohort(rows: int, seed: int = 7) -> pl.DataFrame:
    """Pseudonymous patient-level rows: study id, banded age, sex, region, diagnosis, measurements."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    start = date(2018, 1, 1).toordinal()
    return pl.DataFrame({
        "study_id": [f"S{i:08d}" for i in range(rows)],
        "age_band": [f"{a // 10 * 10}-{a // 10 * 10 + 9}" for a in age],
        "sex": rng.choice(["F", "M"], rows),
        "region": rng.choice(REGIONS, rows),
        "diagnosis": rng.choice(DIAGNOSES, rows),
        "admission_year": [date.fromordinal(start + int(d)).year for d in rng.integers(0, 365 * 6, rows)],
        "length_of_stay": rng.poisson(5, rows).astype(np.int32),
        "hba1c": np.round(rng.normal(6.8, 1.1, rows), 1),
        "systolic_bp": rng.normal(132, 17, rows).astype(np.int32),
        "readmitted": rng.random(rows) < 0.12,
    })


def write_cohort(directory: Path, rows: int = 20000, seed: int = 7) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cohort.parquet"
    cohort(rows, seed).write_parquet(path)
    return path
