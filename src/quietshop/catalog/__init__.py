"""The catalog: categories, products and their variants, search, stock, warranty text."""
