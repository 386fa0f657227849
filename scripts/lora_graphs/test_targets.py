"""The exporter's LoRA targets follow PEFT's rules and agree with prepare's (the cases of graph-builder's
PrepareTest.targetsFollowPeftsMatchingRules and LayerFilter).
  python3 -m unittest discover -s scripts/lora_graphs -t scripts"""
import unittest

from lora_graphs.targets import Targets


class TargetsTest(unittest.TestCase):
    def test_a_list_matches_names_and_dotted_suffixes(self):
        gpt2 = Targets.parse("attn.c_attn,attn.c_proj")  # PEFT's own GPT-2 list
        self.assertTrue(gpt2.matches("transformer.h.0.attn.c_attn"))
        self.assertTrue(gpt2.matches("transformer.h.0.attn.c_proj"))
        self.assertFalse(gpt2.matches("transformer.h.0.mlp.c_proj"))
        self.assertFalse(gpt2.matches("transformer.h.0.xattn.c_attn"))
        self.assertTrue(Targets.parse("c_proj").matches("transformer.h.0.mlp.c_proj"))
        self.assertTrue(Targets.parse("query").matches("query"))

    def test_a_regex_matches_the_whole_name(self):
        t = Targets.parse(None, regex=r".*\.h\.[01]\.attn\.c_attn")
        self.assertTrue(t.matches("transformer.h.1.attn.c_attn"))
        self.assertFalse(t.matches("transformer.h.2.attn.c_attn"))
        self.assertFalse(Targets.parse(None, regex="attn").matches("transformer.h.1.attn.c_attn"))

    def test_all_linear_leaves_the_output_layer_and_exclusions_out(self):
        t = Targets.parse("all-linear", exclude="c_proj")
        self.assertTrue(t.matches("transformer.h.0.attn.c_attn"))
        self.assertFalse(t.matches("lm_head", is_output_layer=True))
        self.assertFalse(t.matches("transformer.h.0.mlp.c_proj"))

    def test_layers_to_transform_reads_the_layer_index(self):
        t = Targets.parse("query,value", layers="1")
        self.assertTrue(t.matches("roberta.encoder.layer.1.attention.self.query"))
        self.assertFalse(t.matches("roberta.encoder.layer.0.attention.self.query"))
        self.assertFalse(t.matches("classifier.dense"))  # no index: no match, as PEFT
        with_pattern = Targets.parse("c_attn", layers="0", layers_pattern="h")
        self.assertTrue(with_pattern.matches("transformer.h.0.attn.c_attn"))
        self.assertFalse(with_pattern.matches("transformer.h.1.attn.c_attn"))
        self.assertFalse(Targets.parse("c_attn", layers="0", layers_pattern="layers").matches("transformer.h.0.attn.c_attn"))

    def test_bad_settings_are_refused(self):
        with self.assertRaisesRegex(ValueError, "exactly one"):
            Targets(names=["q"], regex="q")
        with self.assertRaisesRegex(ValueError, "needs --layers-to-transform"):
            Targets.parse("q", layers_pattern="h")
        with self.assertRaisesRegex(ValueError, "no module names"):
            Targets.parse(" , ")

    def test_peft_form(self):
        self.assertEqual(Targets.parse("value,query").to_peft(), ["query", "value"])
        self.assertEqual(Targets.parse("all-linear").to_peft(), "all-linear")
        self.assertEqual(Targets.parse(None, regex="a.*").to_peft(), "a.*")


if __name__ == "__main__":
    unittest.main()
