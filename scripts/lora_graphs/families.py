"""Model families: which Hugging Face class, LoRA targets, trainable heads, loss, inference outputs and
example batches. One class per family; the exporter only talks to the Family interface."""
import collections

import torch
import torch.nn.functional as F


def text_batch(B, S, g, vocab, pad_id, eos=None):
    """Random token ids with right padding on some rows (rows lose 0, 2, 4 tokens)."""
    ids = torch.randint(3, vocab - 10, (B, S), generator=g)
    mask = torch.zeros(B, S, dtype=torch.int64)
    for i in range(B):
        n = S - (i % 3) * 2
        mask[i, :n] = 1
        if eos is not None:
            ids[i, n - 1] = eos
        ids[i, n:] = pad_id
    return ids, mask


def lm_labels(ids, mask):
    lab = ids.clone()
    lab[mask == 0] = -100
    return lab


class Family:
    name = ""
    hf_class = ""
    task = ""
    targets = ()
    peft_task_type = None

    def __init__(self, config):
        self.config = config

    def build(self):
        """Returns the Hugging Face model (random init from self.config)."""
        raise NotImplementedError

    def keep(self, module_path):
        return True

    def trainable(self, model):
        """Names of non-LoRA tensors trained alongside the adapter (PEFT modules_to_save)."""
        return []

    def modules_to_save(self):
        return []

    def batch(self, model, B, S, seed):
        """(OrderedDict of batch tensors, {input: symbolic dim names})."""
        raise NotImplementedError

    def loss(self, model, b):
        raise NotImplementedError

    def infer(self, model, b):
        """OrderedDict of inference outputs; the first is `logits`."""
        raise NotImplementedError

    def infer_inputs(self, names):
        return [n for n in names if n != "labels"]


class Roberta(Family):
    name, hf_class, task, targets, peft_task_type = "roberta", "RobertaForSequenceClassification", "seq-cls", ("query", "value"), "SEQ_CLS"

    def build(self):
        from transformers import RobertaForSequenceClassification
        return RobertaForSequenceClassification(self.config)

    def trainable(self, model):
        return [n for n, _ in model.named_parameters() if n.startswith("classifier.")]

    def modules_to_save(self):
        return ["classifier"]

    def batch(self, model, B, S, seed):
        g = torch.Generator().manual_seed(seed)
        c = self.config
        ids, mask = text_batch(B, S, g, c.vocab_size, c.pad_token_id, c.eos_token_id)
        lab = torch.randint(0, c.num_labels, (B,), generator=g)
        b = collections.OrderedDict(input_ids=ids, attention_mask=mask, labels=lab)
        return b, {"input_ids": ["batch", "seq"], "attention_mask": ["batch", "seq"], "labels": ["batch"]}

    def loss(self, model, b):
        return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"]).loss

    def infer(self, model, b):
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True)
        return collections.OrderedDict(logits=out.logits, last_hidden_state=out.hidden_states[-1])


class Bert(Roberta):
    """BERT (e.g. all-MiniLM-L6-v2). The pooler is trainable too: embedding exports such as the
    langchain4j MiniLM ship no pooler, so it starts fresh like the classifier."""
    name, hf_class = "bert", "BertForSequenceClassification"

    def build(self):
        from transformers import BertForSequenceClassification
        return BertForSequenceClassification(self.config)

    def trainable(self, model):
        return [n for n, _ in model.named_parameters() if n.startswith(("classifier.", "bert.pooler."))]

    def modules_to_save(self):
        return ["classifier", "pooler"]

    def batch(self, model, B, S, seed):
        b, dims = super().batch(model, B, S, seed)
        tt = torch.zeros_like(b["input_ids"])
        tt[:, S // 2:] = 1  # a sentence pair in the second half
        tt[b["attention_mask"] == 0] = 0
        b = collections.OrderedDict(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                                    token_type_ids=tt, labels=b["labels"])
        dims["token_type_ids"] = ["batch", "seq"]
        return b, dims

    def loss(self, model, b):
        return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                     token_type_ids=b["token_type_ids"], labels=b["labels"]).loss

    def infer(self, model, b):
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                    token_type_ids=b["token_type_ids"], output_hidden_states=True)
        return collections.OrderedDict(logits=out.logits, last_hidden_state=out.hidden_states[-1])


class Gpt2(Family):
    name, hf_class, task, targets, peft_task_type = "gpt2", "GPT2LMHeadModel", "causal-lm", ("c_attn",), "CAUSAL_LM"

    def build(self):
        from transformers import GPT2LMHeadModel
        return GPT2LMHeadModel(self.config)

    def batch(self, model, B, S, seed):
        g = torch.Generator().manual_seed(seed)
        ids, mask = text_batch(B, S, g, self.config.vocab_size, pad_id=0)
        b = collections.OrderedDict(input_ids=ids, attention_mask=mask, labels=lm_labels(ids, mask))
        d = ["batch", "seq"]
        return b, {"input_ids": d, "attention_mask": d, "labels": d}

    def loss(self, model, b):
        return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"],
                     use_cache=False).loss

    def infer(self, model, b):
        return collections.OrderedDict(
            logits=model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], use_cache=False).logits)


class Clip(Family):
    name, hf_class, task, targets = "clip", "CLIPModel", "contrastive", ("q_proj", "v_proj")

    def build(self):
        from transformers import CLIPModel
        from transformers.models.clip import modeling_clip as mc

        # transformers' contrastive_loss uses torch.arange(len(logits)); len() bakes the traced batch
        # size into the graph (export-recipe.md, problem 3). Same math with logits.shape[0]:
        def contrastive_loss(logits):
            return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))

        mc.contrastive_loss = contrastive_loss
        return CLIPModel(self.config)

    def batch(self, model, B, S, seed):
        g = torch.Generator().manual_seed(seed)
        tc, vc = self.config.text_config, self.config.vision_config
        ids, mask = text_batch(B, S, g, tc.vocab_size, tc.pad_token_id, tc.eos_token_id)
        pv = torch.randn(B, vc.num_channels, vc.image_size, vc.image_size, generator=g)
        b = collections.OrderedDict(input_ids=ids, attention_mask=mask, pixel_values=pv)
        return b, {"input_ids": ["batch", "seq"], "attention_mask": ["batch", "seq"],
                   "pixel_values": ["batch", vc.num_channels, vc.image_size, vc.image_size]}

    def loss(self, model, b):
        return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                     pixel_values=b["pixel_values"], return_loss=True).loss

    def infer(self, model, b):
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], pixel_values=b["pixel_values"])
        # logits = logits_per_image [images, texts]: zero-shot classification feeds one caption per class
        return collections.OrderedDict(logits=out.logits_per_image, image_embeds=out.image_embeds,
                                       text_embeds=out.text_embeds)


class Qwen2VL(Family):
    """Qwen2-VL with one image per example. The HF forward is not traceable (export-recipe.md,
    problem 4): positions (mrope, vision) and cu_seqlens are computed on the host and fed as inputs,
    the vision attention's split becomes a block-diagonal mask, masked_scatter becomes gather+where."""
    name, hf_class, task, targets, peft_task_type = "qwen2vl", "Qwen2VLForConditionalGeneration", "vl-causal-lm", ("q_proj", "v_proj", "qkv"), "CAUSAL_LM"
    IMAGE_TOKENS_PER_EXAMPLE_GRID = (1, 4, 4)

    def build(self):
        from transformers import Qwen2VLForConditionalGeneration
        patch_qwen2vl_vision_attention()
        return Qwen2VLForConditionalGeneration(self.config)

    def keep(self, path):
        # text attention q/v and vision qkv only (the vision tower has no q_proj/v_proj anyway)
        return "visual" in path or "language_model" in path

    def batch(self, model, B, S, seed):
        from transformers.vision_utils import get_vision_cu_seqlens, get_vision_position_ids
        c = self.config
        g = torch.Generator().manual_seed(seed)
        ids, mask = text_batch(B, S, g, c.text_config.vocab_size, pad_id=0)
        t, h, w = self.IMAGE_TOKENS_PER_EXAMPLE_GRID
        merge = c.vision_config.spatial_merge_size
        n_img = t * h * w // (merge * merge)
        ids[:, 2] = c.vision_start_token_id
        ids[:, 3:3 + n_img] = c.image_token_id
        ids[:, 3 + n_img] = c.vision_end_token_id
        mm = (ids == c.image_token_id).to(torch.int32)
        lab = lm_labels(ids, mask)
        lab[ids == c.image_token_id] = -100
        grid = torch.tensor([[t, h, w]] * B, dtype=torch.int64)
        vc = c.vision_config
        pv = torch.randn(B * t * h * w, vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2, generator=g)
        with torch.no_grad():
            mrope, _ = model.model.get_rope_index(ids, mm, image_grid_thw=grid, attention_mask=mask)
        b = collections.OrderedDict(
            input_ids=ids, attention_mask=mask, labels=lab, pixel_values=pv,
            mrope_position_ids=mrope.contiguous(),
            vision_position_ids=get_vision_position_ids(grid, merge).contiguous(),
            cu_seqlens=get_vision_cu_seqlens(grid))
        d = ["batch", "seq"]
        return b, {"input_ids": d, "attention_mask": d, "labels": d, "pixel_values": ["patches", pv.shape[1]],
                   "mrope_position_ids": [3, "batch", "seq"], "vision_position_ids": ["patches", 2],
                   "cu_seqlens": ["images_plus_1"]}

    def _logits(self, model, b):
        core = model.model
        ids = b["input_ids"]
        emb = core.get_input_embeddings()(ids)
        vis = core.visual(b["pixel_values"], grid_thw=None, position_ids=b["vision_position_ids"],
                          cu_seqlens=b["cu_seqlens"])
        img = vis.pooler_output.to(emb.dtype)
        is_img = ids == model.config.image_token_id
        idx = (is_img.reshape(-1).to(torch.int64).cumsum(0) - 1).clamp(min=0)
        emb = torch.where(is_img.unsqueeze(-1), img.index_select(0, idx).reshape(emb.shape), emb)
        out = core.language_model(input_ids=None, inputs_embeds=emb, attention_mask=b["attention_mask"],
                                  position_ids=b["mrope_position_ids"], use_cache=False)
        return model.lm_head(out.last_hidden_state)

    def loss(self, model, b):
        return model.loss_function(logits=self._logits(model, b), labels=b["labels"],
                                   vocab_size=model.config.text_config.vocab_size)

    def infer(self, model, b):
        return collections.OrderedDict(logits=self._logits(model, b))


def patch_qwen2vl_vision_attention():
    """The eager vision attention splits per image with lengths.tolist() (data dependent); this equal
    block-diagonal mask from cu_seqlens traces with symbolic shapes."""
    from transformers.models.qwen2_vl import modeling_qwen2_vl as q

    def forward(self, hidden_states, cu_seqlens, position_embeddings=None, max_seqlen=None, **kwargs):
        n = hidden_states.shape[0]
        qs, ks, vs = self.qkv(hidden_states).reshape(n, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        cos, sin = position_embeddings
        qs, ks = q.apply_rotary_pos_emb_vision(qs, ks, cos, sin)
        qs, ks, vs = qs.transpose(0, 1), ks.transpose(0, 1), vs.transpose(0, 1)
        pos = torch.arange(n, device=hidden_states.device)
        seg = (pos[:, None] >= cu_seqlens[None, 1:].to(pos.dtype)).sum(-1)
        same = seg[:, None] == seg[None, :]
        scores = torch.matmul(qs, ks.transpose(1, 2)) * self.scaling
        scores = scores.masked_fill(~same, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores.float(), dim=-1).to(qs.dtype)
        return self.proj(torch.matmul(probs, vs).transpose(0, 1).reshape(n, -1))

    q.VisionAttention.forward = forward


FAMILIES = {f.name: f for f in (Roberta, Bert, Gpt2, Clip, Qwen2VL)}


def tiny_config(family):
    """The committed tiny configs (hidden 64, 2 layers; vision 32/64)."""
    eager = dict(attn_implementation="eager")
    if family == "roberta":
        from transformers import RobertaConfig
        return RobertaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=128, max_position_embeddings=80, type_vocab_size=1, num_labels=3,
                             pad_token_id=1, bos_token_id=0, eos_token_id=2, **eager)
    if family == "bert":  # MiniLM's architecture (BERT, erf GELU, eps 1e-12, 2 token types), scaled down
        from transformers import BertConfig
        return BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=128, max_position_embeddings=80, type_vocab_size=2, num_labels=2,
                          layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0, **eager)
    if family == "gpt2":
        from transformers import GPT2Config
        return GPT2Config(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=4, n_inner=128,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **eager)
    if family == "clip":
        from transformers import CLIPConfig
        tc = dict(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=64, eos_token_id=999, pad_token_id=1, bos_token_id=0, projection_dim=32)
        vc = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  image_size=32, patch_size=8, num_channels=3, projection_dim=32)
        cfg = CLIPConfig(text_config=tc, vision_config=vc, projection_dim=32, **eager)
        for sub in ("text_config", "vision_config"):
            getattr(cfg, sub)._attn_implementation = "eager"
        return cfg
    if family == "qwen2vl":
        from transformers import Qwen2VLConfig
        text = dict(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                    rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                    pad_token_id=0, bos_token_id=1, eos_token_id=2)
        vision = dict(depth=2, embed_dim=32, hidden_size=64, num_heads=4, mlp_ratio=2, in_channels=3,
                      patch_size=4, spatial_merge_size=2, temporal_patch_size=2)
        cfg = Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=995, video_token_id=996,
                            vision_start_token_id=997, vision_end_token_id=998, **eager)
        for sub in ("text_config", "vision_config"):
            getattr(cfg, sub)._attn_implementation = "eager"
        return cfg
    raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
