"""Cloud drivers for attacks (apache-libcloud based)."""
