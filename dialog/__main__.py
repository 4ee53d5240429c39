"""``python -m dialog``: talk to a flow in the terminal (see `dialog.console`)."""

from dialog.console import main

raise SystemExit(main())
