"""The dashboard notebooks served by ``tdw serve`` (see README.md here)."""
