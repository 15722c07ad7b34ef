"""Governance in the browser: data catalogue, project applications and approvals, graded access, supervision."""
