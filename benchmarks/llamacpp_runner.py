"""llama.cpp for `runtime_bench.py`, through llama-cpp-python's low-level API.

The high-level `Llama.generate` decodes one sequence at a time, so it cannot give the
batch-8 figure. This runner does what our engine does: one prefill of the prompt, its KV
cells shared by every sequence (`llama_memory_seq_cp` over a unified cache), then one
`llama_decode` per step for all sequences together, greedy, with the argmax taken in numpy
(our engine's time includes its sampling too).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class LlamaCppRunner:
    def __init__(self, model_path: str, *, n_ctx: int, n_seq: int, threads: int) -> None:
        import llama_cpp as lc
        from llama_cpp import Llama

        self.lc = lc
        # The high-level object loads the model and tokenizes; decoding uses our context.
        self.llm = Llama(
            model_path=model_path,
            n_ctx=256,
            n_threads=threads,
            use_extra_bufts=False,  # the pip build's AMX buffers die with SIGILL on some CPUs
            verbose=False,
        )
        params = lc.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = n_seq
        params.kv_unified = True  # the sequences share the prompt's cells
        params.n_threads = params.n_threads_batch = threads
        model = self.llm._model.model
        self.ctx = lc.llama_init_from_model(model, params)
        if not self.ctx:
            raise RuntimeError("llama_init_from_model failed")
        self.memory = lc.llama_get_memory(self.ctx)
        self.n_vocab = lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(model))
        self.batch = lc.llama_batch_init(512, 0, n_seq)

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=True)

    def generate(self, ids: list[int], batch: int, new: int) -> list[int]:
        """Greedy tokens of sequence 0 (all sequences are identical under greedy decoding)."""
        self.lc.llama_memory_clear(self.memory, True)
        n = len(ids)
        self._decode([(tok, pos, 0, pos == n - 1) for pos, tok in enumerate(ids)])
        for seq in range(1, batch):
            self.lc.llama_memory_seq_cp(self.memory, 0, seq, -1, -1)
        tokens = [self._argmax(n - 1)] * batch
        out = [tokens[0]]
        for step in range(1, new):
            self._decode([(tokens[s], n + step - 1, s, True) for s in range(batch)])
            tokens = [self._argmax(s) for s in range(batch)]
            out.append(tokens[0])
        return out

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        b: Any = self.batch
        b.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
            b.seq_id[i][0] = seq
        if (rc := self.lc.llama_decode(self.ctx, self.batch)) != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def _argmax(self, row: int) -> int:
        logits = self.lc.llama_get_logits_ith(self.ctx, row)
        return int(np.ctypeslib.as_array(logits, shape=(self.n_vocab,)).argmax())
