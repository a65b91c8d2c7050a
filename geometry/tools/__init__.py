"""The geometry command-line tools: ``elpips-geodesic``, ``elpips-average``, ``elpips-batch``.

Each is also ``python -m geometry.tools.<name>``. They live apart from the engine so that a tool module
and the engine function of the same name (``geometry.geodesic``) never share one attribute of a package.
`geometry.tools.support` holds what the tools share (the run options, the error policy, the progress bar) beyond
`elpips.cli_common`, the parser, option types and error conventions of every command-line tool.
"""
