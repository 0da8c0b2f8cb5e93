"""Redis: the connection (system Redis or an embedded Valkey), key names, repositories."""
