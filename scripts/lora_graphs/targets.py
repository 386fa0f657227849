"""Which modules get LoRA, by PEFT's rules (peft.tuners.tuners_utils.check_target_module_exists), the same
rules `prepare` applies (graph-builder's Targets and LayerFilter): a list matches a module whose name equals an
entry or ends with `.entry`; a regex must match the whole name; `all-linear` is every linear layer but the
output layer; `exclude` removes modules by the list rule; `layers_to_transform` keeps a module only if the
layer index in its name, `.<pattern>.<index>.` (without patterns PEFT's `.*\\.[^.]*\\.(\\d+)\\.`, matched at the
start), is listed. Standard library only: the exporter imports it before torch, and its tests run without torch.
"""
import re

ALL_LINEAR = "all-linear"


class Targets:
    def __init__(self, names=(), regex=None, all_linear=False, exclude=(), layers=(), layers_pattern=()):
        self.names, self.regex, self.all_linear = list(names), regex, all_linear
        self.exclude, self.layers, self.layers_pattern = list(exclude), list(layers), list(layers_pattern)
        if (1 if self.names else 0) + (regex is not None) + bool(all_linear) != 1:
            raise ValueError("LoRA targets: give exactly one of a module list, a regex or all-linear")
        if regex is not None:
            re.compile(regex)
        if any(i < 0 for i in self.layers):
            raise ValueError(f"--layers-to-transform: layer indices are >= 0, got {self.layers}")
        if self.layers_pattern and not self.layers:
            raise ValueError("--layers-pattern needs --layers-to-transform")

    @staticmethod
    def parse(spec, regex=None, exclude=None, layers=None, layers_pattern=None):
        """From the exporter's options: `spec` a comma-separated list or all-linear (or None with `regex`)."""
        split = lambda s: [p.strip() for p in (s or "").split(",") if p.strip()]
        kw = dict(exclude=split(exclude), layers=[int(i) for i in split(layers)], layers_pattern=split(layers_pattern))
        if regex is not None:
            return Targets(regex=regex, **kw)
        if spec.strip() == ALL_LINEAR:
            return Targets(all_linear=True, **kw)
        if not split(spec):
            raise ValueError(f"LoRA targets: no module names in {spec!r}")
        return Targets(names=split(spec), **kw)

    def matches(self, module, is_output_layer=False):
        """True if `module` (a full module path) gets LoRA."""
        if _list_match(self.exclude, module):
            return False
        if self.all_linear:
            found = not is_output_layer
        elif self.regex is not None:
            found = re.fullmatch(self.regex, module) is not None
        else:
            found = _list_match(self.names, module)
        return found and self._layer_ok(module)

    def _layer_ok(self, module):
        if not self.layers:
            return True
        index = None
        for pattern in self.layers_pattern or [None]:
            m = re.match(r".*\.[^.]*\.(\d+)\." if pattern is None else rf".*\.{re.escape(pattern)}\.(\d+)\.", module)
            if m is not None:
                index = int(m.group(1))
                break
        return index is not None and index in self.layers

    def to_peft(self):
        """target_modules as PEFT's adapter_config.json writes it."""
        return ALL_LINEAR if self.all_linear else self.regex if self.regex is not None else sorted(self.names)


def _list_match(names, module):
    return any(module == t or module.endswith("." + t) for t in names)
