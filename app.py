"""Entry point for Hugging Face Spaces (app_file): the same as `python -m explorer`."""
import sys

from explorer.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
