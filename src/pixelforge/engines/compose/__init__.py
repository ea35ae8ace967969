"""Built-in compose engine: renders designs through SVG."""
