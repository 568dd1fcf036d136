import sys

from archive.manual import main

sys.exit(main())
