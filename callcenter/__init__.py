"""The call-center engine: composition root (wiring, CLI) plus the shared kernel in `core`."""
