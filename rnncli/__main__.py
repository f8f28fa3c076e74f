"""The rnncli command (`rnncli`, `python -m rnncli`)."""

import signal


def main() -> None:
    # Ctrl-C while Python reads the command's modules (about 0.1 s) ends rnncli as the signal
    # does, quietly (status 130 in a shell), not with a traceback of the import it cut short;
    # from then on the command's own handling takes it (a whole line, a checkpoint, status 130).
    # A SIGINT that whatever started rnncli ignores (`cmd &` in a script, trap '' INT) stays ignored.
    ours = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if ours:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from .cli import main as run  # read with Ctrl-C's default action

    if ours:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    run()


if __name__ == "__main__":
    main()
