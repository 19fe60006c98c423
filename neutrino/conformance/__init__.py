"""``neutrino conformance``: OpenStack's own network API tests run against ``neutrino up``.

tempest's ``tempest.api.network`` and neutron-tempest-plugin's ``neutron_tempest_plugin.api``
(admin tests included, no scenario tests) from their own virtualenv (``.venv-tempest``, made
by ``scripts/conformance.sh``), summarised per test module in ``docs/results/conformance/``.
"""
