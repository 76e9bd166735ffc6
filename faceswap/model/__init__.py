"""The swap model: shared encoder, one decoder per identity, masks, discriminator, losses."""
