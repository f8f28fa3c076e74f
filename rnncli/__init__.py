"""rnncli: the Elman recurrent network of the classic tutorial, as a part-of-speech tagger.

From Python (docs/python.md)::

    import rnncli

    tagger = rnncli.load()                            # as --model does: a path, $RNNCLI_MODEL, 'default'
    tagger.tag([["I", "eat", "apple"]])               # [['PRON', 'VERB', 'NOUN']]
    tagger.tag_text("I don't know")                   # Tokens with .text .start .end .tag .prob
    rnncli.tokenize("I don't know")                   # the same Tokens, without tags
    for out in tagger.tag_lines(open("text.txt", "rb")):  # what `rnncli tag` prints, one item per line
        ...

Every public name is in ``__all__``; the modules behind them are not an interface. They are
imported when first used, so that ``import rnncli`` stays as quick as it was (no NumPy).
"""

# Each public name and the module that defines it: the one list, read by __all__ and __getattr__.
_PUBLIC = {
    "load": "loader",
    "Tagger": "loader",  # the loader registers how a tagger read from a file pickles
    "tokenize": "tokenizer",
    "Token": "tokenizer",
    "RnncliError": "errors",
    "CorpusError": "errors",
    "ModelFileError": "errors",
    "OptionError": "errors",
    "TaggingError": "errors",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str):
    # The version lives in the package metadata alone; looked up on demand to keep start-up quick.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # slow to import: only on demand

        try:
            return version("rnncli")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    if name in _PUBLIC:
        from importlib import import_module  # each public name's module is imported when first used

        value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'rnncli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"__version__"})
