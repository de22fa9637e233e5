"""Entry point kept for job scripts written by earlier versions: ``python -m fem_electrode.casejob``.

The job step lives in :mod:`fem_electrode.campaign.job`; scripts rendered now call that module.
"""

import sys

from fem_electrode.campaign.job import main

if __name__ == "__main__":
    sys.exit(main())
