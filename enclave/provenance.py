"""What made a file: the provenance record of a blind-mode job (who, code, image, data versions, limits).

In the core because two components read it: jobs writes and shows it, and the export release writes it into
results.json for any released file a job produced, so a released number traces back to what made it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from enclave.models import Job, JobState


def provenance(job: Job) -> dict[str, Any]:
    """What made the job's outputs: who, when, code, image, data, command, limits, use, exit code, hashes."""
    return {"job": job.id, "project": job.project, "submitter": job.submitter, "command": job.command,
            "submitted_at": job.created_at.isoformat() if job.created_at else None,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "ended_at": job.ended_at.isoformat() if job.ended_at else None,
            "state": job.state.value, "reason": job.reason, "exit_code": job.exit_code,
            "code_sha256": job.code_sha256, "code_files": job.code_manifest.get("files", {}),
            "image": job.image, "image_digest": job.image_digest,
            "datasets": {k: {"version": v["version"], "tier": v["tier"], "files": v["files"]}
                         for k, v in job.datasets.items()},
            "limits": job.limits, "resources": job.resources, "rerun_of": job.rerun_of,
            "outputs": {k: {"sha256": v["sha256"], "bytes": v["bytes"], "verdict": v["verdict"]}
                        for k, v in job.outputs.items()}}


def provenance_of_outputs(session: Session, project: str, digests: set[str]) -> list[dict[str, Any]]:
    """The provenance of the project's jobs that produced any of these files (by sha256, the checked form
    delivered into the workspace), for an export's results.json: a released number traces back to the
    code, image and data versions that made it."""
    found = []
    for job in session.execute(select(Job).where(Job.project == project, Job.state == JobState.FINISHED)
                               .order_by(Job.id)).scalars():
        matched = sorted(name for name, meta in job.outputs.items() if meta.get("sha256") in digests)
        if matched:
            found.append({**provenance(job), "exported_outputs": matched})
    return found
