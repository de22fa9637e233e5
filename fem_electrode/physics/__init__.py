"""Physics: UFL forms and constitutive/kinetic laws only (no meshes, no solvers)."""
