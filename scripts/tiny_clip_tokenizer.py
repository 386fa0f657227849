#!/usr/bin/env python3
"""Writes a word-level tokenizer.json for the bundled tiny CLIP and names it in its manifest.

The tiny CLIP has a 1,000-token vocabulary and no real CLIP BPE vocabulary is reachable offline, so
its captions ("a photo of a sneaker.") go through a small Hugging Face WordLevel tokenizer: lowercase,
split on whitespace and punctuation, [UNK] for unknown words, <|startoftext|> ... <|endoftext|> around
each text. The ids match the model's config: bos 0, pad 1, eos 999 (CLIP pools the text at the first
eos). Standard library only: python3 scripts/tiny_clip_tokenizer.py [MODEL_DIR] (default
onnx-models/tiny-clip; export_tiny_models.sh runs it on each fresh export).
"""
import json
import pathlib
import re
import sys

BOS, PAD, UNK, EOS = 0, 1, 2, 999

# Caption templates and the class names of the image sets the trainer reads (Fashion-MNIST, MNIST),
# plus the words of common prompt templates; everything else maps to [UNK].
WORDS = """
a an the of photo picture image drawing sketch photograph low resolution black and white small
large cropped blurry bright dark good bad clean close up rendering item piece clothing digit number
handwritten written
t shirt top trouser pullover dress coat sandal sneaker bag ankle boot
zero one two three four five six seven eight nine 0 1 2 3 4 5 6 7 8 9
. , - / ' : ;
"""


def main() -> None:
    model = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "onnx-models/tiny-clip")
    manifest_path = model / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    text_config = manifest["source"]["config"]["text_config"]
    assert (text_config["bos_token_id"], text_config["pad_token_id"], text_config["eos_token_id"]) == (
        BOS, PAD, EOS), "tiny CLIP's special ids changed"
    vocab = {"<|startoftext|>": BOS, "<pad>": PAD, "[UNK]": UNK, "<|endoftext|>": EOS}
    for w in dict.fromkeys(re.findall(r"\S+", WORDS)):
        vocab[w] = len(vocab) - 1  # ids 3.. (eos sits at 999)
    assert len(vocab) < text_config["vocab_size"]
    special = [(BOS, "<|startoftext|>"), (PAD, "<pad>"), (UNK, "[UNK]"), (EOS, "<|endoftext|>")]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, t in special
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
            "special_tokens": {
                "<|startoftext|>": {"id": "<|startoftext|>", "ids": [BOS], "tokens": ["<|startoftext|>"]},
                "<|endoftext|>": {"id": "<|endoftext|>", "ids": [EOS], "tokens": ["<|endoftext|>"]},
            },
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    }
    (model / "tokenizer.json").write_text(json.dumps(tokenizer, indent=1) + "\n")
    manifest["tokenizer"] = {"file": "tokenizer.json"}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {model / 'tokenizer.json'}: {len(vocab)} tokens")


if __name__ == "__main__":
    main()
