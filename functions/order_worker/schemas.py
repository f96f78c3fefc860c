"""What an order is: the JSON Schema the worker validates each body against."""

ORDER_SCHEMA = {
    "type": "object",
    "required": ["orderId", "email"],
    "properties": {
        "orderId": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},  # used in S3 keys
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": {"type": "string", "minLength": 1},
                    "quantity": {"type": "integer", "minimum": 1},
                },
            },
        },
        "total": {"type": "number", "minimum": 0},
    },
}
