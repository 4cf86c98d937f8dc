import sys

from prevention_engine.cli import main

sys.exit(main())
