"""`mgtrainer env build/status/run/doctor/clean/lock`. Handlers import their modules lazily."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    env = sub.add_parser("env", help="build and inspect the per-backend uv environments",
                         description="Per-backend uv environments (env/<profile>/), built on demand under MGT_HOME.")
    verbs = env.add_subparsers(dest="env_verb", metavar="ACTION", required=True)

    p = verbs.add_parser("build", help="build a profile's env (instant when already built)")
    p.add_argument("profile", help="profile name (env/<name>/) or a profile folder")
    p.add_argument("-q", "--quiet", action="store_true", help="only print errors and the env's path")
    p.set_defaults(func=_build)

    p = verbs.add_parser("status", help="table of profiles: path, python, key versions, built/stale")
    p.set_defaults(func=_status)

    p = verbs.add_parser("run", help="run a command inside a profile's env: env run PROFILE -- CMD ...")
    p.add_argument("profile")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="the command (after --)")
    p.set_defaults(func=_run)

    p = verbs.add_parser("doctor", help="python, torch build, GPU, vLLM, versions vs lock, known conflicts")
    p.add_argument("profile", nargs="?", help="check inside this profile's env (default: this interpreter)")
    p.set_defaults(func=_doctor)

    p = verbs.add_parser("clean", help="remove stale envs and leftovers of interrupted builds")
    p.add_argument("profile", nargs="?", help="only this profile")
    p.add_argument("--all", action="store_true", help="also remove the current (up-to-date) envs")
    p.set_defaults(func=_clean)

    p = verbs.add_parser("lock", help="regenerate env/<profile>/requirements.txt with uv pip compile")
    p.add_argument("profile", nargs="*", help="profiles to lock (default: all)")
    p.add_argument("--upgrade", action="store_true", help="ignore the current pins and take the newest versions")
    p.set_defaults(func=_lock)


def _build(args) -> int:
    from mgtrainer.env import env_path

    print(env_path(args.profile, quiet=args.quiet))
    return 0


def _run(args) -> int:
    from mgtrainer.env import run

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    return run(args.profile, cmd)


def _status(args) -> int:
    from mgtrainer.env.manage import status

    return status()


def _doctor(args) -> int:
    from mgtrainer.env.doctor import doctor

    return doctor(args.profile)


def _clean(args) -> int:
    from mgtrainer.env.manage import clean

    return clean(args.profile, everything=args.all)


def _lock(args) -> int:
    from mgtrainer.env.manage import lock

    return lock(args.profile, upgrade=args.upgrade)
