"""The served OpenAPI document as the battery reads it: the statuses each operation
declares, a concrete path mapped back to its route, and component schemas turned into
JSON Schema (OpenAPI 3.0's `nullable` and `$ref`) for validating what the system sends."""

import re

import jsonschema_rs


class Document:
    def __init__(self, doc):
        self.doc = doc
        self.components = doc.get("components", {}).get("schemas", {})
        self.statuses = {}
        self.routes = []  # (method, regex, route)
        for route, item in doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route)) + "$")
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    self.statuses[f"{method.upper()} {route}"] = set(operation["responses"])
                    self.routes.append((method.upper(), pattern, route))
        # Literal routes before templated ones (/projects/default vs /projects/{project}).
        self.routes.sort(key=lambda r: r[2].count("{"))

    def operation(self, method, path):
        """'METHOD /route' for a concrete request, or None."""
        path = path.split("?", 1)[0]
        for m, pattern, route in self.routes:
            if m == method.upper() and pattern.match(path):
                return f"{m} {route}"
        return None

    def declares(self, method, path, status):
        """True or False for a known operation, None for a path the document does not have."""
        operation = self.operation(method, path)
        if operation is None:
            return None
        declared = self.statuses[operation]
        return str(status) in declared or "default" in declared

    def json_schema(self, name):
        return self.convert({"$ref": f"#/components/schemas/{name}"})

    def convert(self, schema):
        """An OpenAPI 3.0 schema as plain JSON Schema, references inlined."""
        return self._convert(schema, depth=0)

    def _convert(self, node, depth):
        if depth > 40:
            return {}
        if isinstance(node, list):
            return [self._convert(x, depth + 1) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return self._convert(self.components[node["$ref"].rsplit("/", 1)[1]], depth + 1)
        out = {k: self._convert(v, depth + 1) for k, v in node.items() if k not in ("nullable", "example")}
        if node.get("nullable"):
            if "type" in out:
                types = out["type"] if isinstance(out["type"], list) else [out["type"]]
                out["type"] = types + ["null"]
            elif "enum" in out:
                out["enum"] = out["enum"] + [None]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        return out

    def validate(self, name, value):
        """The schema errors of value against component `name` (empty when it conforms)."""
        return self.errors(self.json_schema(name), value)

    @staticmethod
    def errors(schema, value):
        validator = jsonschema_rs.validator_for(schema)
        return [str(e).split("\n")[0] for e in validator.iter_errors(value)]
