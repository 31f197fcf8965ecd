"""The staff web dashboard at /staff.

`auth`: passwords, sessions, CSRF tokens and limits on failed logins (no web framework: the CLI uses it too).
`web`: the pages, as Starlette routes over handlers.desk. `demo`: the demo's staff login and sample cases.
The numbers of the numbers page come from `storage.report.report`, so a command line report can reuse them.
"""
