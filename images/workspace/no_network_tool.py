#!/opt/venv/bin/python
"""`pip`, `pip3`, `curl`, `wget` and `python -m pip` in the workspace: say why there is no network."""
import sys

from enclave_messages import main

sys.exit(main())
