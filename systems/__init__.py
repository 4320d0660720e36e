"""Published SED systems, one module each; registered through the ``sedbench.systems`` entry points."""
