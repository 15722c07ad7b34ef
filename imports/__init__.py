"""The import airlock: files researchers bring into a workspace from outside, checked before they enter.

Upload on the governance pages (outside any workspace), automated checks (`checks`), a steward's review
where the policy says so, then the file appears read-only in the project's workspace at
/workspace/imports/<id>/<name>. Depends only on the core (enclave/) and the policies; the governance
service mounts `imports.pages`.
"""
