"""OGC API – Features (and vector tiles) at /ogc, on both the internal and the public instance."""
