"""Encoders: where pretrained weights come from (hub, a shipped package, or a tiny embedded stand-in)
and how an ITT target is initialised from an intermediate checkpoint."""

#: How the tiny stand-in encoders (``itt.models.embedded``) are built: bump it when that changes. Their cache
#: key and the ids of runs on them follow it (kept here, without torch, where the run id can read it).
BUILD_VERSION = 2
