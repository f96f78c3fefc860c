"""The stack: what the lab provisions in LocalStack and the operations on it
(pause, break, fix, redrive), the function zip, template.yaml, the CLI profiles."""
