"""The SQS -> Lambda lab: the commands behind `make`, by concern, each layer
importing only the ones below it (scripts/import-graph checks it):

    cli/     the commands' handlers: up and down, the test tiers, the ones that ask
    teach/   scenarios, the quiz, the exercise engine (exercises/catalogue/ holds the content)
    stack/   what is provisioned in LocalStack and how it changes: queues, roles,
             functions, mapping, API; the function zip, the template, CLI profiles
    watch/   what is read from a running lab: status, logs, trace, cost, the dashboard
    runs/    the ways the lab runs: host mode, Docker mode, the tools container,
             the saved state, the offline bundle
    core/    settings, errors, the console, waiting, AWS clients, child processes

`python -m lab` (lab/__main__.py) is the command line, one table of commands;
docs/DEVELOPING.md is the tour.
"""
