"""What users see: the command line, progress bars, HTML views and the web view."""
