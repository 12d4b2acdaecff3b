"""`python -m diskredis`: the same as `diskredis-server`."""

from diskredis.cli import main

raise SystemExit(main())
