"""The exporter's manifest check (schema.py) on the committed manifests and on broken ones. Standard library
only: python3 -m unittest discover -s scripts/lora_graphs -t scripts
"""
import copy
import glob
import json
import os
import unittest

from lora_graphs import schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def committed():
    paths = sorted(glob.glob(os.path.join(REPO, "onnx-models", "*", "manifest.json")))
    return {p: json.load(open(p)) for p in paths}


class SchemaTest(unittest.TestCase):
    def test_every_committed_manifest_is_valid(self):
        manifests = committed()
        self.assertGreaterEqual(len(manifests), 6)
        for path, m in manifests.items():
            self.assertEqual(schema.errors(m), [], path)

    def test_broken_manifests_are_named(self):
        m = next(iter(committed().values()))
        cases = {
            "contract": lambda x: x.update(contract="lora-graph/2"),
            "missing required field 'lora'": lambda x: x.pop("lora"),
            "default_rank": lambda x: x["lora"].update(default_rank=0),
            "graphs.train": lambda x: x["graphs"].update(train="../train.onnx"),
            "matches 0 of the oneOf": lambda x: x["inputs"][0]["shape"].__setitem__(0, 1.5),
        }
        for expected, breaks in cases.items():
            bad = copy.deepcopy(m)
            breaks(bad)
            found = schema.errors(bad)
            self.assertTrue(any(expected in e for e in found), f"{expected}: {found}")
            with self.assertRaises(ValueError):
                schema.check(bad, "manifest.json")

    def test_an_unknown_keyword_is_refused_not_skipped(self):
        with self.assertRaisesRegex(ValueError, "maxLength"):
            schema.errors("x", {"type": "string", "maxLength": 0})


if __name__ == "__main__":
    unittest.main()
