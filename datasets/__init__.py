"""Registered datasets, one module each; registered through the ``sedbench.datasets`` entry points."""
