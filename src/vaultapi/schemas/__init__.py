"""Request and response models: the API contract. One module per router."""
