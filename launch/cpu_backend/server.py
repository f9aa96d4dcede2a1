"""Rollout backend `hfcpu`: a Ray actor serving token-in/token-out generation with transformers on CPU.

`HFCPUServer` plays the part vLLM's HTTP server plays on a GPU node: verl's agent loop calls
`generate(request_id, prompt_ids, sampling_params) -> TokenOutput` through its load balancer, and the
replica lifecycle calls (sleep, wake_up, abort_all_requests ...) are accepted as no-ops because the model
lives in host memory the whole time. New weights arrive from the trainer rank through `load_weights`
(see adapter.py). Concurrent requests are decoded together in fp32 (launch.cpu_backend.sampling), as
vLLM batches them on a GPU. `HFCPUReplica` launches one server per replica next to its trainer
rank, as verl's vLLM replica does.

    python -m pytest tests/launch/cpu_backend/test_cpu_backend.py -k server
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
import torch
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

from launch.cpu_backend.sampling import Sampling, generate_batch

SERVER_NAME_PREFIX = "hfcpu_server"


def server_actor_name(replica_rank: int) -> str:
    """Ray actor name of a replica's server; the trainer rank's adapter finds its server by it."""
    return f"{SERVER_NAME_PREFIX}_{replica_rank}"


class HFCPUServer:
    """One replica's generation server: a transformers causal LM in fp32 on CPU, batching what arrives together.

    verl's agent loop sends a step's requests concurrently; they queue here and are decoded together by
    launch.cpu_backend.sampling (one KV cache, per-request knobs), up to MAX_BATCH at a time. A request that
    arrives while a batch runs waits for the next one.
    """

    MAX_BATCH = 256

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
        defaults = self.model.generation_config
        self.eos_token_id = defaults.eos_token_id
        self.pad_token_id = self.eos_token_id if defaults.pad_token_id is None else defaults.pad_token_id
        self.max_model_len = config.max_model_len or (config.prompt_length + config.response_length)
        self.generator = torch.Generator().manual_seed(config.seed + replica_rank)
        self._queue: list[tuple[list[int], Sampling, asyncio.Future]] = []
        self._batcher: asyncio.Task | None = None
        self.batch_sizes: list[int] = []  # per decoded batch, for the benchmark and tests
        # Weight swaps wait for the batch in flight, and a batch never starts during a swap.
        self._lock = asyncio.Lock()

    def _sampling(self, prompt_ids: list[int], sampling_params: dict[str, Any]) -> Sampling:
        params = dict(sampling_params)
        room = self.max_model_len - len(prompt_ids)
        if room < 1:
            raise ValueError(f"prompt of {len(prompt_ids)} tokens leaves no room within {self.max_model_len}")
        default_budget = min(
            self.config.response_length,
            self.config.prompt_length + self.config.response_length - len(prompt_ids),
        )
        max_tokens = params.pop("max_tokens", params.pop("max_new_tokens", default_budget))
        if float(params.get("repetition_penalty", 1.0)) != 1.0:
            raise ValueError("the hfcpu rollout does not implement repetition_penalty; leave it at 1.0")
        return Sampling(
            max_tokens=max(1, min(max_tokens, room)),
            temperature=float(params.get("temperature", 1.0)),
            top_k=int(params.get("top_k", -1)),
            top_p=float(params.get("top_p", 1.0)),
            ignore_eos=bool(params.get("ignore_eos", False)),
        )

    async def generate(
        self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, **_unused: Any
    ) -> TokenOutput:
        """Sample one completion; log-probs are of the processed (temperature-scaled) distribution."""
        sampling = self._sampling(list(prompt_ids), sampling_params)
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((list(prompt_ids), sampling, done))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._drain())
        completion = await done
        return TokenOutput(
            token_ids=completion.token_ids,
            log_probs=completion.log_probs if sampling_params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},
        )

    async def _drain(self) -> None:
        """Decode queued requests batch after batch until the queue is empty."""
        while self._queue:
            # Let the requests sent together all arrive: the agent loop issues them within microseconds.
            await asyncio.sleep(0.01)
            batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
            self.batch_sizes.append(len(batch))
            async with self._lock:
                try:
                    completions = await asyncio.to_thread(
                        generate_batch,
                        self.model,
                        [prompt for prompt, _, _ in batch],
                        [sampling for _, sampling, _ in batch],
                        eos_token_id=self.eos_token_id,
                        pad_token_id=self.pad_token_id,
                        generator=self.generator,
                    )
                except Exception as error:  # every waiting request learns why, instead of hanging
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
            for (_, _, done), completion in zip(batch, completions, strict=True):
                if not done.done():  # a request cancelled while it waited has nobody to receive it
                    done.set_result(completion)

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
