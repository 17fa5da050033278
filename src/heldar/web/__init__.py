"""The dashboard: static ES modules served by the kernel at `/` (issue 10)."""
