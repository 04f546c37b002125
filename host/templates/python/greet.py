"""The methods of {{name}}: plain Python functions, unit-tested by test_greet.py."""


def hello(name="world"):
    """Greets `name`."""
    print(f"greeting {name}")
    return f"Hello, {name}!"


# The RPC methods callers can call, by name.
METHODS = {"hello": hello}
