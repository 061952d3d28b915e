"""The live network in the browser and its HTTP control API (``--web``): :mod:`.live` holds
the run as the API sees it, :mod:`.app` the routes, :mod:`.openapi` their description,
:mod:`.server` serves them in the simulation's own event loop; ``static/`` is the page."""
