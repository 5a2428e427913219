"""What a person sees: the ``pylo`` command line, the progress bar, HTML views, the demo, the web view."""
