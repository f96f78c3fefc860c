"""Provisioning: idempotent create-or-update of every resource of a lab stack."""
