"""Blind-mode jobs: code snapshotted at submission, run on the real data in sealed containers, its log
and outputs checked like exports before anything comes back into the workspace."""
