"""Project configuration: settings, URL routing, ASGI/WSGI entry points, API error handling."""
