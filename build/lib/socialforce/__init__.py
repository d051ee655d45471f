"""Socialforce: matching social forces to needy households' service lists.

`create_app` is imported lazily so that `import socialforce.matching` stays free of Flask.
"""


def __getattr__(name: str):
    if name == "create_app":
        from socialforce.platform.app import create_app

        return create_app
    raise AttributeError(name)
