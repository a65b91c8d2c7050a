"""Paths between images and their starts: motion (flows, warps), textures, spacing, and path quality measures."""
