"""vLLM backend (optional extra `loralab[gpu]`): paged attention, continuous batching, multi-LoRA.

One `vllm.LLM` holds the base; every adapter is a `LoRARequest` attached per prompt, so a
batch mixes adapters the way PEFT's `adapter_names` does in the transformers backend (vLLM
batches them with its punica kernels). vLLM is imported only here, so the rest of loralab
runs without it.
"""

from __future__ import annotations

from pathlib import Path

from loralab.errors import LoralabError, missing_extra
from loralab.inference.generate import (
    BASE,
    RESERVED,
    GenRequest,
    OnText,
    Router,
    SamplingParams,
    check_request,
    cut_after_code_block,
    cut_at_stop,
    dir_identity,
    model_identity,
    report_done,
    route_adapters,
)


def _import_vllm():
    try:
        import vllm
        from vllm.lora.request import LoRARequest
    except ImportError:
        raise missing_extra("vllm", "gpu") from None
    return vllm, LoRARequest


class VLLMGenerator:
    """Generator over vllm.LLM; `adapters` maps name -> PEFT adapter directory."""

    streams = False

    def __init__(self, model: str, adapters: dict[str, str | Path] | None = None, *, router: Router | None = None,
                 identity: str | None = None, max_lora_rank: int = 64, **llm_kwargs):
        vllm, self._LoRARequest = _import_vllm()
        self.adapters = {n: str(p) for n, p in (adapters or {}).items()}
        for n, p in self.adapters.items():
            if n in RESERVED:
                raise LoralabError(f"adapter name {n!r} is reserved ({', '.join(sorted(RESERVED))}); pick another")
            if not (Path(p) / "adapter_config.json").exists():
                raise LoralabError(f"{p}: not a PEFT adapter directory (no adapter_config.json)")
        if self.adapters:
            llm_kwargs.update(enable_lora=True, max_loras=len(self.adapters), max_lora_rank=max_lora_rank)
        self.llm = vllm.LLM(model=model, **llm_kwargs)
        self.tok = self.llm.get_tokenizer()
        self.router = router
        self.default_adapter = BASE
        self._hashes = {n: dir_identity(p, full=True) for n, p in self.adapters.items()}
        self._ids = {n: i for i, n in enumerate(sorted(self.adapters), start=1)}  # vLLM wants ids >= 1
        self.base_identity = identity or model
        self.name = f"vllm:{self.base_identity}" + "".join(f"+{n}={h}" for n, h in sorted(self._hashes.items()))

    @classmethod
    def from_config(cls, mcfg, adapters: dict[str, str | Path] | None = None, *, router: Router | None = None,
                    **llm_kwargs) -> VLLMGenerator:
        from loralab.models import resolve

        _import_vllm()  # the missing-extra error before any model work
        adapters = dict(adapters or {})
        if mcfg.adapter:
            adapters["default"] = mcfg.adapter
        dtype = {"auto": "auto", "float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}[mcfg.dtype]
        gen = cls(resolve(mcfg.name), adapters, router=router, identity=model_identity(mcfg.name, mcfg.revision),
                  dtype=dtype, revision=mcfg.revision, trust_remote_code=mcfg.trust_remote_code, **llm_kwargs)
        if mcfg.adapter:
            gen.default_adapter = "default"
        return gen

    def identity(self, adapter: str | None) -> str:
        adapter = self.default_adapter if adapter is None else adapter
        if adapter in (BASE, "base"):
            return f"vllm:{self.base_identity}"
        return f"vllm:{self.base_identity}+{adapter}={self._hashes.get(adapter, self.name)}"

    def render(self, req: GenRequest) -> str:
        check_request(req)
        if req.prompt is not None:
            return req.prompt
        return self.tok.apply_chat_template(list(req.messages), tokenize=False, add_generation_prompt=True)

    def generate(self, requests: list[GenRequest], params: SamplingParams,
                 on_text: OnText | None = None) -> list[list[str]]:
        vllm, _ = _import_vllm()
        params.check()
        names = route_adapters(requests, self.router, set(self.adapters), self.default_adapter)
        sp = [vllm.SamplingParams(n=params.n, temperature=params.temperature,
                                  top_p=params.top_p if params.temperature > 0 else 1.0,
                                  max_tokens=params.max_new_tokens, stop=list(params.stop) or None,
                                  seed=r.sampling(params).seed) for r in requests]
        loras = [None if n == BASE else self._LoRARequest(n, self._ids[n], self.adapters[n]) for n in names]
        outs = self.llm.generate([self.render(r) for r in requests], sp, lora_request=loras, use_tqdm=False)
        cut = cut_after_code_block if params.stop_after_code_block else (lambda t: t)
        return report_done([[cut(cut_at_stop(c.text, params.stop)) for c in o.outputs] for o in outs], on_text)
