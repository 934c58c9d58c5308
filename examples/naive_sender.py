#!/usr/bin/env python3
"""A sender with no bounce or complaint processing, for examples/grade-bounces.yaml.

The same newsletter as suppressing_sender.py, but it never reads the
reports that come back: its next campaign mails the dead address and the
recipient who complained again, which `mailfault run` reports as failed.
"""

import os
import runpy
import sys

sys.argv.append("--no-suppression")
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "suppressing_sender.py"), run_name="__main__")
