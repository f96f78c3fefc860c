"""The lab's core, which every other layer uses: settings (the one module that owns
them), the error type, the console, waiting with a deadline, AWS clients for the
lab, child processes, and what this machine can run at once."""
