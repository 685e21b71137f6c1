import sys

from xbarsim.cli import main

sys.exit(main())
