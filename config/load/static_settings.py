"""Settings `make load` collects static files with: production's, keeping the manifest that `{% static %}`
reads in production but not WhiteNoise's compressed copies. The simulated people never download static
files (a browser keeps them), so the .gz and .br copies would change nothing measured, and making them
took over three minutes on the 2-CPU machine."""

from config.settings import *  # noqa: F403
from config.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
