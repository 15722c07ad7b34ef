# Every IPython kernel and shell in the workspace loads the code recorder (enclave_record): each executed cell
# goes on the enclave's record. Locked into the read-only image (/opt/venv/etc/ipython/ipython_config.py).
c = get_config()  # type: ignore[name-defined]  # noqa: F821
c.InteractiveShellApp.extensions = ["enclave_record"]

# The project's approved packages (pip puts them into /workspace/.enclave/python, enclave_pip) are importable in the
# image's own "Python 3" kernel too, after the image's packages (which they never shadow here); a kernel that was
# running when they were installed sees them after a restart, as IPython's %pip says.
import sys  # noqa: E402

from enclave_pip import project_site  # noqa: E402

if str(project_site()) not in sys.path:
    sys.path.append(str(project_site()))
