"""Request -> Operation mappers, one module per service, as moto splits its services."""
