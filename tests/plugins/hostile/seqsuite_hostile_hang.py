"""A plugin whose import never finishes."""

import time

while True:
    time.sleep(1)
