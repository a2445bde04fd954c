"""The published JSON Schemas (docs/schema/) are valid draft-7 schemas, every shipped
pipeline and catalogue fits them, and they refuse what doel refuses: checked with an
independent validator (python-jsonschema), not with doel's own check.

Run from the repository root: python -m unittest discover -s python/tests
"""

import json
import tomllib
import unittest
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]


def schema(name):
    document = json.loads((ROOT / "docs" / "schema" / f"{name}.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(document)
    return jsonschema.Draft7Validator(document)


def errors(validator, text):
    return [e.message for e in validator.iter_errors(tomllib.loads(text))]


class Schemas(unittest.TestCase):
    def test_every_shipped_file_fits(self):
        pipeline, catalogue = schema("pipeline"), schema("catalogue")
        files = sorted((ROOT / "pipelines").glob("*.toml"))
        self.assertGreaterEqual(len(files), 6)
        for path in files:
            document = tomllib.loads(path.read_text())
            validator = catalogue if "catalogue" in document and "pipeline" not in document else pipeline
            found = [e.message for e in validator.iter_errors(document)]
            self.assertEqual(found, [], path.name)

    def test_what_doel_refuses_the_schema_refuses(self):
        pipeline = schema("pipeline")
        good = (ROOT / "pipelines" / "gemeente-jeugd.toml").read_text()
        self.assertEqual(errors(pipeline, good), [])
        for broken in [
            good.replace("[pipeline]", "[pipeline]\ncontcat = \"x\"", 1),
            good.replace("purpose = ", "purpose = \"reserch\"\nold_purpose = ", 1),
            good.replace("recipient_retention", "# recipient_retention", 1),
            good.replace("[columns]", "[columns]\nextra = \"hide\"", 1),
            good.replace("[columns]", "[columns]\nextra = { action = \"keep\", colour = 1 }", 1),
        ]:
            self.assertNotEqual(errors(pipeline, broken), [], broken[:60])

    def test_a_catalogue_category_must_be_known(self):
        catalogue = schema("catalogue")
        good = (ROOT / "pipelines" / "catalogue.toml").read_text()
        self.assertEqual(errors(catalogue, good), [])
        self.assertNotEqual(errors(catalogue, good.replace('category = "bsn"', 'category = "secret"', 1)), [])


if __name__ == "__main__":
    unittest.main()
