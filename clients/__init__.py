"""Reference clients that talk to the project only through its public APIs."""
