"""HTTP routes, one module per area of the contract. Handlers parse, call a service, shape."""
