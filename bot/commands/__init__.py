"""One module per `ieum` subcommand; each exposes `register(subparsers)`."""
