"""The HTTP API: the door officers, managers, intake staff, the public form and app feeds come through.

`api.app.create_app(settings, client, store)` builds it around a Temporal client and the case file, so
the same app runs under `asb up`, in a deployment behind uvicorn, and in tests on the time-skipping server.
"""
