import sys

from bench.all import main

sys.exit(main())
