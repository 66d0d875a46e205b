"""`python -m erp_target [flags]`: run the reference ERP (see `--help`)."""

from gevent import monkey

monkey.patch_all()  # before anything imports socket/ssl/threading: sqlite + Flask run under gevent

import logging  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from erp_target.config import parse_args  # noqa: E402

log = logging.getLogger("erp_target")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags and serve until SIGINT/SIGTERM; returns the exit code (0 clean, 1 error, 2 bad flags)."""
    try:
        config = parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a bad flag (2, message already printed)
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    logging.basicConfig(
        level=config.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from erp_target.server import serve  # Flask & co. load after the monkey-patching above

    try:
        return serve(config)
    except (RuntimeError, sqlite3.DatabaseError) as e:
        log.error("cannot start: %s", e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
