# Locked into the read-only image: a researcher cannot change it from inside the workspace.
c = get_config()  # type: ignore[name-defined]  # noqa: F821
c.ServerApp.jpserver_extensions = {"enclave_lockdown": True}
c.ContentsManager.files_handler_class = "enclave_lockdown.BlockedHandler"
c.ContentsManager.allow_hidden = False
c.ServerApp.root_dir = "/srv/enclave"
c.FileContentsManager.preferred_dir = "workspace"
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
c.LanguageServerManager.autodetect = False
