"""Organisation export and import: everything an organisation holds, as a ZIP another Greenlight can load.

- `format.py`: what is exported (discovered from the tenant models), what is left out and why, and how
  references are written (tenant rows by their original id, the library by natural key, people by email).
- `records.py`: field values to JSON and back.
- `export.py`: builds the ZIP (data files, stored files streamed in chunks, manifest with checksums).
- `archive.py`: checks an export's manifest and checksums before anything is read from it.
- `importer.py`: loads an export into this instance in one transaction.
- `services.py`: the DataExport rows behind the settings page (request, build, retry, expiry).
"""
