"""Size limits of raster uploads, apart from the GDAL-using modules so the request guard imports no GDAL."""

MIB = 1024 * 1024
# Defaults of the settings GISAPP_RASTER_MAX_MB / GISAPP_RASTER_MAX_PIXELS_MB (gisapp/settings.py).
MAX_BYTES = 1024 * MIB
MAX_PIXELS_BYTES = 8192 * MIB
# What the request guard lets through at most, whatever the setting (gisapp/request_guard.py).
MAX_BYTES_CEILING = 4096 * MIB
