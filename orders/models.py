"""Payment orders: filled by the orders issue."""
