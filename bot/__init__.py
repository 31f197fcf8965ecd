"""The runtime: settings, channels, engine, outbox dispatcher, web server and CLI."""
