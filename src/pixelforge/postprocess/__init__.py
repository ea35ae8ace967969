"""Output processing: encoding with metadata (later: upscale, overlay, provenance)."""
