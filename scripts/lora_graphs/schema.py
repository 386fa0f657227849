"""Checks a manifest.json against docs/schema/manifest.schema.json with the standard library only (the
GPU machine and ours have no jsonschema package). Implements the JSON Schema keywords that schema uses:
type, const, enum, required, properties, additionalProperties, items, minItems, minLength, pattern,
minimum, exclusiveMinimum, oneOf, not, $ref (local #/$defs/...); a schema that uses another keyword is
refused, so the check cannot silently pass on a keyword it does not know.
"""
import json
import os
import re

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "docs", "schema", "manifest.schema.json")
_ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
_CHECKED = {"type", "const", "enum", "required", "properties", "additionalProperties", "items", "minItems",
            "minLength", "pattern", "minimum", "exclusiveMinimum", "oneOf", "not", "$ref"}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def errors(value, schema=None, root=None, path="$"):
    """Every violation of `schema` (default: the manifest schema) by `value`, as 'path: what' strings."""
    if schema is None:
        with open(SCHEMA) as fh:
            schema = json.load(fh)
    root = root if root is not None else schema
    unknown = set(schema) - _CHECKED - _ANNOTATIONS
    if unknown:
        raise ValueError(f"{path}: schema keywords this checker does not implement: {sorted(unknown)}")
    out = []
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        out += errors(value, target, root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return out + [f"{path}: expected {' or '.join(types)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                out.append(f"{path}: missing required field {k!r}")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                out += errors(v, props[k], root, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: field {k!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(v, schema["additionalProperties"], root, f"{path}.{k}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{path}: expected at least {schema['minItems']} items, got {len(value)}")
        if "items" in schema:
            for i, v in enumerate(value):
                out += errors(v, schema["items"], root, f"{path}[{i}]")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(f"{path}: {value} is not above {schema['exclusiveMinimum']}")
    if "oneOf" in schema:
        matching = sum(1 for s in schema["oneOf"] if not errors(value, s, root, path))
        if matching != 1:
            out.append(f"{path}: matches {matching} of the oneOf alternatives, expected exactly 1")
    if "not" in schema and not errors(value, schema["not"], root, path):
        out.append(f"{path}: matches a schema it must not match")
    return out


def check(manifest, where):
    """Raises ValueError naming `where` and every violation, if the manifest breaks the schema."""
    found = errors(manifest)
    if found:
        raise ValueError(f"{where}: manifest does not match {SCHEMA}:\n  " + "\n  ".join(found))
