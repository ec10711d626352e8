"""A task's model: input adapter -> shared backbone -> head.

The adapter turns a batch (a dict of tensors) into features (batch, time, features);
the backbone is the same for every task; the head turns :class:`BackboneOutput` into
the task's prediction. Tasks build the adapter and the head; the core composes them.

The trainer takes any ``nn.Module`` whose ``forward(batch, state)`` returns
``(output, state)``. It asks a model for optional abilities through the protocols below
(``isinstance(model, HasLayerGroups)``, ...), never by probing its attributes;
:class:`SequenceModel` has all three, and a module with none trains with one parameter
group, no unfreezing and no GFLOP/s figure.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from .backbone import Backbone, BackboneOutput, State

Batch = dict[str, Any]


@runtime_checkable
class HasLayerGroups(Protocol):
    """Parameters in groups from the top of the network down, for discriminative learning
    rates (``train.layer_lr_decay``) and gradual unfreezing (``train.unfreeze_epochs``)."""

    def flops_per_timestep(self) -> float:
        """The backbone's forward FLOPs per sample and time step (adapter and head aside)."""
        return self.backbone.flops_per_timestep()

    def prepare_for_ddp(self) -> None:
        self.backbone.rnn.flatten_parameters()

    def layer_groups(self) -> list[list[nn.Parameter]]: ...


@runtime_checkable
class CountsFlops(Protocol):
    """Knows its forward FLOPs per sample and time step, for the GFLOP/s column."""

    def flops_per_timestep(self) -> float: ...


@runtime_checkable
class PreparesForDDP(Protocol):
    """Has work to do before DistributedDataParallel wraps it (cuDNN wants an RNN's
    weights in one contiguous buffer)."""

    def prepare_for_ddp(self) -> None: ...


class SequenceModel(nn.Module):
    """``adapter(batch) -> backbone -> head(output, batch)``."""

    def __init__(self, adapter: nn.Module, backbone: Backbone, head: nn.Module):
        super().__init__()
        self.adapter = adapter
        self.backbone = backbone
        self.head = head

    def forward(self, batch: Batch, state: State | None = None) -> tuple[Tensor, State]:
        features = self.adapter(batch)
        out: BackboneOutput = self.backbone(features, batch.get("lengths"), state)
        return self.head(out, batch), out.state

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per part: adapter, backbone, head and total. A tensor
        shared by two parts (tied weights) counts in the first and once in the total."""
        counts, seen = {}, set()
        for name in ("adapter", "backbone", "head"):
            params = [
                p for p in getattr(self, name).parameters() if p.requires_grad and id(p) not in seen
            ]
            seen.update(id(p) for p in params)
            counts[name] = sum(p.numel() for p in params)
        counts["total"] = sum(counts.values())
        return counts

    def flops_per_timestep(self) -> float:
        """The backbone's forward FLOPs per sample and time step (adapter and head aside)."""
        return self.backbone.flops_per_timestep()

    def prepare_for_ddp(self) -> None:
        self.backbone.rnn.flatten_parameters()

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters from the top of the network down: head, each backbone layer (last
        first), adapter. For discriminative learning rates and gradual unfreezing."""
        layers = self.backbone.config.num_layers
        by_layer: list[list[nn.Parameter]] = [[] for _ in range(layers)]
        for name, param in self.backbone.named_parameters():
            layer = int(name.split("_l")[-1].split("_")[0])  # rnn.weight_ih_l1_reverse -> 1
            by_layer[layer].append(param)
        groups = [
            list(self.head.parameters()),
            *reversed(by_layer),
            list(self.adapter.parameters()),
        ]
        seen: set[int] = set()
        unique = []
        for group in groups:  # a tied tensor belongs to its first (highest) group
            unique.append([p for p in group if id(p) not in seen])
            seen.update(id(p) for p in group)
        return [g for g in unique if g]
