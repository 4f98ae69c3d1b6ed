"""Recipes: the TOML file that picks plugins and their parameters.

`schema` says what a recipe may contain (every core key, its type, default and checks);
`load` reads a file into a validated `Recipe` (overrides, plugin parameters resolved);
`toml_text` writes recipe tables back as TOML and finds the line a key is on;
`json_schema` describes recipes and plugin parameters for editors and tools.
"""
