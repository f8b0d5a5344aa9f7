"""Encoders: where pretrained weights come from (hub, a shipped package, or a tiny embedded stand-in)
and how an ITT target is initialised from an intermediate checkpoint."""
