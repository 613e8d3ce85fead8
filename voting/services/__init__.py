"""Write operations of the voting app (one module per concern); reads live in voting.selectors."""
