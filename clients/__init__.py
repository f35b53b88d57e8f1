"""The Temporal clients every door shares: the API, the CLI, the simulator and the tests.

`clients.caseclient` opens cases and sends them commands; `clients.taskclient` lists, claims and
decides tasks. They sit below both the API (`api/`) and the CLI (`asb/`), so neither door imports
the other to reach a case.
"""
