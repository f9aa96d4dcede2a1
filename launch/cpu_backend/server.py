"""Rollout backend `hfcpu`: a Ray actor serving token-in/token-out generation with transformers on CPU.

`HFCPUServer` plays the part vLLM's HTTP server plays on a GPU node: verl's agent loop calls
`generate(request_id, prompt_ids, sampling_params) -> TokenOutput` through its load balancer, and the
replica lifecycle calls (sleep, wake_up, abort_all_requests ...) are accepted as no-ops because the model
lives in host memory the whole time. New weights arrive from the trainer rank through `load_weights`
(see adapter.py). Generation is one request at a time in fp32: the point is to exercise verl's real
pipeline on a laptop, not to be fast. `HFCPUReplica` launches one server per replica next to its trainer
rank, as verl's vLLM replica does.

    python -m pytest tests/launch/test_cpu_backend.py -k server
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
import torch
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

SERVER_NAME_PREFIX = "hfcpu_server"


def server_actor_name(replica_rank: int) -> str:
    """Ray actor name of a replica's server; the trainer rank's adapter finds its server by it."""
    return f"{SERVER_NAME_PREFIX}_{replica_rank}"


class HFCPUServer:
    """One replica's generation server: a transformers causal LM in fp32 on CPU."""

    def __init__(self, config: Any, model_config: Any, replica_rank: int = 0) -> None:
        from transformers import AutoModelForCausalLM
        from verl.utils.fs import copy_to_local

        self.config = config
        self.replica_rank = replica_rank
        self.global_steps: int | None = None
        local_path = copy_to_local(model_config["path"])
        # fp32 on purpose: bf16 matmuls crash some CPUs (oneDNN AMX) and the actor computes in fp32 too,
        # so rollout and actor log-probs agree to rounding.
        self.model = AutoModelForCausalLM.from_pretrained(local_path, dtype=torch.float32).eval()
        self.max_model_len = config.max_model_len or (config.prompt_length + config.response_length)
        torch.manual_seed(config.seed + replica_rank)
        # HF generate is not re-entrant on one model; requests queue here, control calls stay responsive.
        self._lock = asyncio.Lock()

    async def generate(
        self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, **_unused: Any
    ) -> TokenOutput:
        """Sample one completion; log-probs are of the processed (temperature-scaled) distribution."""
        params = dict(sampling_params)
        room = self.max_model_len - len(prompt_ids)
        if room < 1:
            raise ValueError(f"prompt of {len(prompt_ids)} tokens leaves no room within {self.max_model_len}")
        default_budget = min(
            self.config.response_length,
            self.config.prompt_length + self.config.response_length - len(prompt_ids),
        )
        max_tokens = params.pop("max_tokens", params.pop("max_new_tokens", default_budget))
        max_tokens = max(1, min(max_tokens, room))
        async with self._lock:
            token_ids, log_probs = await asyncio.to_thread(self._sample, prompt_ids, params, max_tokens)
        return TokenOutput(
            token_ids=token_ids,
            log_probs=log_probs if params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},
        )

    @torch.no_grad()
    def _sample(self, prompt_ids: list[int], params: dict[str, Any], max_tokens: int):
        """Generate one completion; returns its token ids and their log-probs."""
        from transformers import GenerationConfig

        temperature = float(params.get("temperature", 1.0))
        defaults = self.model.generation_config
        if temperature > 0:
            # Every sampling knob explicitly: left unset, transformers applies its own defaults (top_k=50)
            # and the rollout would sample from another distribution than the one the actor scores.
            top_k = int(params.get("top_k", -1))
            sampling = {
                "do_sample": True,
                "temperature": temperature,
                "top_p": float(params.get("top_p", 1.0)),
            }
            sampling["top_k"] = top_k if top_k > 0 else 0
        else:
            sampling = {"do_sample": False}
        generation_config = GenerationConfig(
            max_new_tokens=max_tokens,
            repetition_penalty=float(params.get("repetition_penalty", 1.0)),
            eos_token_id=None if params.get("ignore_eos") else defaults.eos_token_id,
            pad_token_id=defaults.eos_token_id if defaults.pad_token_id is None else defaults.pad_token_id,
            output_scores=True,
            return_dict_in_generate=True,
            **sampling,
        )
        input_ids = torch.tensor([prompt_ids], dtype=torch.long)
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            generation_config=generation_config,
        )
        token_ids = output.sequences[0, input_ids.shape[1] :]
        # scores are the logits after temperature/top-k/top-p: vLLM's "processed_logprobs".
        log_probs = torch.stack(
            [
                torch.log_softmax(step_scores[0], dim=-1)[token]
                for step_scores, token in zip(output.scores, token_ids, strict=True)
            ]
        )
        return token_ids.tolist(), log_probs.tolist()

    async def load_weights(self, weights: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        """Replace the model's weights with the trainer's; returns the number of tensors loaded."""
        async with self._lock:  # never swap weights under a running generate
            missing, unexpected = self.model.load_state_dict(weights, strict=False)
            tied = set(getattr(self.model, "_tied_weights_keys", None) or [])
            if unexpected or set(missing) - tied:
                raise ValueError(
                    f"weights do not match the rollout model: missing={missing} unexpected={unexpected}"
                )
            self.model.tie_weights()
            self.global_steps = global_steps
        return len(weights)

    def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    # Lifecycle calls verl makes on every rollout server. The model stays in host memory and each request
    # runs to completion, so there is no device memory to free and nothing in flight to abort.
    async def wake_up(self, tags: list[str] | None = None) -> None:
        pass

    async def sleep(self) -> None:
        pass

    async def abort_all_requests(self, reject_request: bool = False) -> dict[str, Any]:
        return {"aborted_count": 0, "request_ids": []}

    async def resume_generation(self) -> None:
        pass

    async def clear_kv_cache(self) -> None:
        pass

    async def release_kv_cache(self) -> None:
        pass

    async def resume_kv_cache(self) -> None:
        pass

    async def start_profile(self, **kwargs: Any) -> None:
        pass

    async def stop_profile(self) -> None:
        pass


class HFCPUReplica(RolloutReplica):
    """Launches one `HFCPUServer` per replica on the node of the trainer rank it shares weights with."""

    async def launch_servers(self) -> None:
        if self.world_size != 1:
            raise ValueError(
                "the hfcpu rollout runs one process per replica: set "
                "actor_rollout_ref.rollout.tensor_model_parallel_size=1 (and data/pipeline parallel 1)"
            )
        node_id = await self.workers[0].__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
        name = server_actor_name(self.replica_rank)
        server = (
            ray.remote(HFCPUServer)
            .options(
                name=name,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
                max_concurrency=self.max_concurrency,
            )
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        await server.__ray_ready__.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = name
