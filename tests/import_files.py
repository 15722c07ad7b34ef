"""Files the import airlock's tests bring in, and the ClamAV signature database the tests write themselves.

The EICAR test file and its one-line .hdb database are the demo seed's (enclave_demo.data): no signature is ever
downloaded.
"""

from __future__ import annotations

from enclave_demo.data import EICAR, EICAR_SIGNATURE, write_eicar_database
from tests.identifiers import faker_resident_ids

__all__ = ["EICAR", "ICD_MAPPING", "SIGNATURE", "resident_id_csv", "write_eicar_database"]

SIGNATURE = EICAR_SIGNATURE

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
