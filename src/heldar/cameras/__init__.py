"""The camera registry: models, vendor URL templates, URL validation and masking, stream probing."""
