# Every IPython kernel and shell in the workspace loads the code recorder (enclave_record): each executed cell
# goes on the enclave's record. Locked into the read-only image (/opt/venv/etc/ipython/ipython_config.py).
c = get_config()  # type: ignore[name-defined]  # noqa: F821
c.InteractiveShellApp.extensions = ["enclave_record"]
