"""rnncli: the Elman recurrent network of the classic tutorial, as a part-of-speech tagger."""


def __getattr__(name: str):
    # The version lives in the package metadata alone; looked up on demand to keep start-up quick.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("rnncli")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(name)
