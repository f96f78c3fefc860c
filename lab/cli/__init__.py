"""The command line's handlers: lifecycle (up, stop, down), the test tiers, and
the commands that do more than call one function. lab/__main__.py is the table
that names them."""
