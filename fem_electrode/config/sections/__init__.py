"""One module per case-file section; :mod:`fem_electrode.config.schema` assembles them."""
