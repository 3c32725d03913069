"""Entry point: ``python -m byom.engine.trainer <spec.json>``."""

from byom.engine.trainer._main import main

raise SystemExit(main())
