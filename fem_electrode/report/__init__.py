"""The comparison report: figures, tables, generated conclusion, ParaView script.

:func:`fem_electrode.report.build.build_report` writes ``report.md``, ``report.html``
(self-contained) and ``comparison.json`` from two or more finished run folders.
"""
