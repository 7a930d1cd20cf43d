"""The notebook UI layer (panels are built on :mod:`tracker.ui.series`)."""
