"""One construct per capability; each builds its resources in small ``_build_*`` methods."""
