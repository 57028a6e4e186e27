"""User-facing errors: the CLI prints them as one line and exits 2, never with a traceback."""


class MgtError(Exception):
    """A mistake in the user's input (config, data, command line) or environment.

    The message is the whole story: it names the file, line/row, field and what would be valid,
    e.g. ``data.jsonl:12: unknown role 'bot' (conversations[2].from); expected one of human, gpt, ...``.
    """

    exit_code = 2
