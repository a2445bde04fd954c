"""Entry point for spark-submit, which runs a file rather than a module:
spark-submit [options] python/submit.py PIPELINE --key-file doel.key [...]"""

from doel.spark import main

raise SystemExit(main())
