#!/opt/venv/bin/python
"""`pip`, `pip3` and `python -m pip` in the workspace: the real pip, through enclave_pip (the enclave's index,
the project's environment, and how to ask for a package the index lacks)."""
import sys

from enclave_pip import module_main

if __name__ == "__main__":
    sys.exit(module_main())
