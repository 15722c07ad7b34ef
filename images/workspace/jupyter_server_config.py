# Locked into the read-only image: a researcher cannot change it from inside the workspace.
import json
import os
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821
# enclave_record: what is typed in a terminal goes on the enclave's record (the kernels record their cells)
c.ServerApp.jpserver_extensions = {"enclave_lockdown": True, "enclave_lab": True, "jupyter_resource_usage": True,
                                   "enclave_record": True}
c.ContentsManager.files_handler_class = "enclave_lockdown.BlockedHandler"
# Uploads through JupyterLab are refused: files come in through the import airlock (enclave_lockdown).
c.ServerApp.contents_manager_class = "enclave_lockdown.EnclaveContentsManager"
c.ContentsManager.allow_hidden = False
c.ServerApp.root_dir = "/srv/enclave"
c.FileContentsManager.preferred_dir = "workspace"
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
c.LanguageServerManager.autodetect = False
# No extension manager and no PyPI/npm look-ups: nothing could be installed in an offline enclave.
c.LabApp.extension_manager = "readonly"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

# Memory and CPU against the project's limits (the kernel is killed at the memory limit): the hub's spawner
# sets MEM_LIMIT (bytes) and CPU_LIMIT (cores) from the project's plan, jupyter-resource-usage shows them.
c.ResourceUseDisplay.track_cpu_percent = True
c.ResourceUseDisplay.mem_warning_threshold = 0.8
c.ResourceUseDisplay.cpu_warning_threshold = 0.8
c.ResourceUseDisplay.enable_prometheus_metrics = False
c.ResourceUseDisplay.show_host_usage = False
if os.environ.get("CPU_LIMIT"):
    c.ResourceUseDisplay.cpu_limit = float(os.environ["CPU_LIMIT"])


def _lab_settings(user: str, lang: str) -> Path | None:
    """Each user's JupyterLab settings live in the project's /workspace (home is a tmpfs, lost on restart),
    so a language chosen in Settings > Language is kept. Until the user chooses, the language is the one
    of the browser that started the workspace (ENCLAVE_LANG from the hub); the sidecar file remembers what
    the enclave wrote, so a file that differs from it is the user's own choice and is never overwritten."""
    if not user or not Path("/workspace").is_dir() or not os.access("/workspace", os.W_OK):
        return None
    root = Path("/workspace/.enclave/users") / user / "lab"
    plugin = root / "user-settings/@jupyterlab/translation-extension/plugin.jupyterlab-settings"
    seed_file = plugin.with_name("plugin.enclave-seed")
    seed = json.dumps({"locale": "zh_CN" if lang == "zh-CN" else "en"}, indent=4) + "\n"
    try:
        plugin.parent.mkdir(parents=True, exist_ok=True)
        if not plugin.exists() or (seed_file.exists() and plugin.read_text() == seed_file.read_text()):
            plugin.write_text(seed)
            seed_file.write_text(seed)
    except OSError:  # a full or read-only workspace must not stop JupyterLab: the default language is used
        return None
    return root


_root = _lab_settings(os.environ.get("JUPYTERHUB_USER", ""), os.environ.get("ENCLAVE_LANG", "en"))
if _root is not None:
    c.LabApp.user_settings_dir = str(_root / "user-settings")
    c.LabApp.workspaces_dir = str(_root / "workspaces")

# "Install more languages…" (Settings > Language and the palette) opens the extension manager, which cannot work
# offline and is disabled (page_config.json): hidden with JupyterLab's custom CSS, written to the tmpfs home.
_HIDDEN = '[data-command="jupyterlab-translation:install-languages"] { display: none !important; }\n'
try:
    from jupyter_core.paths import jupyter_config_dir

    _css = Path(jupyter_config_dir()) / "custom" / "custom.css"
    _css.parent.mkdir(parents=True, exist_ok=True)
    _css.write_text(_HIDDEN)
    c.LabApp.custom_css = True
except OSError:
    pass

# "Python (project packages)": the kernel of the project's own environment (/workspace/.enclave/python, where pip
# installs approved packages from the enclave's index), made at start if missing; its spec goes to the user's data
# folder (home, a tmpfs: written again, in the user's language, at every start), never to a folder on /workspace.
try:
    from enclave_pip import ensure_kernel, project_python
    from jupyter_core.paths import jupyter_data_dir

    if os.access("/workspace", os.W_OK):
        ensure_kernel(Path(jupyter_data_dir()) / "kernels", project_python())
except OSError:
    pass
