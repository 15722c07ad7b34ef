"""JupyterHub configuration, spawner, authenticator and roles for Enclave."""
