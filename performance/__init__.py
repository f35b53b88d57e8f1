"""The monthly performance report: figures from casefile/reports.py, charts, HTML and PDF (issue 14 item 4)."""
