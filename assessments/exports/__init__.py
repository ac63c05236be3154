"""Exports for auditors, customers and certification bodies: the ISO 27001 Statement of Applicability
(.xlsx and PDF), the evidence pack (a streamed ZIP), the Cyber Essentials answers workbook and CSV files
of controls, plan tasks and evidence. One module per export; `rows` reads what they share."""
