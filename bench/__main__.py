"""`python -m bench [quick|full|small|smoke|scaling]`: run the benchmark (see bench/README.md).

`python -m bench install` fetches APOC core for the bench's Neo4j (make bench-install);
`python -m bench performance bench/results/<date>.json` puts that run into docs/performance.md
(`readme`, its old name, does the same).
"""

from __future__ import annotations

import sys

from bench.run import PROFILES, run, update_performance_page


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "quick"
    if name == "install":
        from bench.servers import LIB_DIR, PLUGINS_DIR
        from graph.server.install import install_plugins

        fetched = install_plugins(PLUGINS_DIR, LIB_DIR)
        print(f"APOC core {'installed' if fetched else 'already'} in {PLUGINS_DIR}")
        return
    if name in ("performance", "readme"):
        update_performance_page(sys.argv[2])
        return
    if name not in PROFILES:
        sys.exit(f"profile: one of {', '.join(PROFILES)}, not {name!r}")
    run(PROFILES[name])


if __name__ == "__main__":
    main()
