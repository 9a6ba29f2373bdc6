import sys

from tools.crashtest.cli import main

sys.exit(main())
