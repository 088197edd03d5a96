"""Allow ``python -m tda_mci <stage>``."""

from tda_mci.cli import main

raise SystemExit(main())
