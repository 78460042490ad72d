"""Raster layers (航空写真・オルソ画像): validate and convert an upload to a COG (``cog``), keep it in the
catalogue (``store``), render map tiles from it (``render``). See docs/raster.md."""
