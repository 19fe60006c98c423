from neutrino.sandbox.pytest_plugin import sandbox, sandbox_factory  # noqa: F401 - fixtures
