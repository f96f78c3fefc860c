"""The SQS -> Lambda lab: settings, LocalStack lifecycle, and the commands behind `make`."""
