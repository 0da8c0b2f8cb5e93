"""The conversation engine and its flows (YAML data, Korean and English side by side)."""
