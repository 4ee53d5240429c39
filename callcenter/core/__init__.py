"""The shared kernel: calls and their states, events, ports, errors, settings, store.

Imports only `config`; every other package may import it.
"""
