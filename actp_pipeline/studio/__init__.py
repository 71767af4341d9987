"""The studio: the web page growth teams and brand reviewers use to watch, approve and steer the loop without the
Dagster UI (issue 14). app.py builds the Starlette app; users.py and access.py are who may do what; scope.py which
account a creative belongs to; web.py the request plumbing every page shares; pages/ one module per page."""
