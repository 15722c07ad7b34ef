"""Files the import airlock's tests bring in, and the ClamAV signature database the tests write themselves.

The EICAR test file is assembled here from two halves, so this source file is not itself the signature; the
database is a one-line .hdb (md5:size:name) of that file: no signature is ever downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.identifiers import faker_resident_ids

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Enclave.Test.EICAR"

ICD_MAPPING = (
    b"icd10,description,ccs_category\n"
    b"A00.0,Cholera due to Vibrio cholerae 01 biovar cholerae,1\n"
    b"E11.9,Type 2 diabetes mellitus without complications,49\n"
    b"I21.9,Acute myocardial infarction unspecified,100\n"
    b"J18.9,Pneumonia unspecified organism,122\n"
    b"N18.3,Chronic kidney disease stage 3,158\n"
)


def resident_id_csv(n: int = 20) -> bytes:
    """A table of valid (checksummed) resident ID numbers: what must never pass unseen."""
    return ("resident_id,visits\n" + "".join(f"{rid},{i % 7}\n" for i, rid in enumerate(faker_resident_ids(n))))\
        .encode()


def write_eicar_database(folder: Path) -> Path:
    """A ClamAV database that knows exactly one signature, the EICAR test file's hash."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "enclave-test.hdb"
    db.write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:{SIGNATURE}\n")  # noqa: S324 - ClamAV's format
    return db
