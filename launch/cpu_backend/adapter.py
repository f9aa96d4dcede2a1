"""The trainer-side half of the `hfcpu` rollout: verl's `BaseRollout` in each trainer rank.

With verl's `naive` checkpoint engine (the sync trainer's default), a trainer rank calls
`rollout.update_weights(per_tensor_params)` after each step; this adapter gathers the full tensors and
ships them through Ray's object store to its replica's `HFCPUServer`. Memory resume/release are no-ops:
on CPU the rollout model never leaves host memory.

    python -m pytest tests/launch/cpu_backend/test_cpu_backend.py
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout

from .server import server_actor_name


class HFCPURolloutAdapter(BaseRollout):
    def __init__(self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        # One process per replica (tensor parallel 1), so every trainer rank leads its own replica.
        self.replica_rank = rank if replica_rank == -1 else replica_rank
        self.is_leader_rank = True
        self._server: ray.actor.ActorHandle | None = None

    def _server_handle(self) -> ray.actor.ActorHandle:
        # Looked up lazily: verl builds the trainer ranks before it launches the rollout servers.
        if self._server is None:
            self._server = ray.get_actor(server_actor_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        pass

    async def release(self) -> None:
        pass

    @torch.no_grad()
    async def update_weights(
        self,
        weights: Iterable[tuple[str, torch.Tensor]] | AsyncIterator[tuple[str, torch.Tensor]],
        wire_format: str = "named_tensors",
        global_steps: int | None = None,
        **_unused: Any,
    ) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(
                f"the hfcpu rollout takes full tensors, not wire_format={wire_format!r}"
            )
        # Every rank must drain the generator: producing the full tensors is a collective across FSDP ranks.
        if hasattr(weights, "__aiter__"):
            state = {name: tensor.detach().to("cpu").clone() async for name, tensor in weights}
        else:
            state = {name: tensor.detach().to("cpu").clone() for name, tensor in weights}
        await self._server_handle().load_weights.remote(state, global_steps)
