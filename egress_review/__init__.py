"""Export requests, automated checks, the two-person review, releases."""
