from mgtrainer.cli import main

raise SystemExit(main())
