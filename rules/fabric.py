"""Structural traps: runtime choices the fabric cannot carry."""

from planner.rulepack import Rule, RulePack

PACK = RulePack(
    name="fabric",
    concern="Structural traps",
    rules=[
        Rule(
            id="trap.multi-node-tp-without-nvlink",
            principle="Structural trap",
            severity="error",
            fact="parallelism",
            when={"tp_outside_nvlink": True},
            message="TP {tp} spans nodes of {gpus_per_node} GPUs joined by {inter_node_fabric}, with no NVLink "
            "domain across them (domain {nvlink_domain}).",
            remedy="Keep TP inside one node (TP <= {gpus_per_node}) and use PP or more replicas across nodes, "
            "or use a rack-scale NVLink system.",
            evidence=["tp", "gpus_per_node", "nvlink_domain", "inter_node_fabric"],
        ),
        Rule(
            id="trap.ep-across-nodes-without-rdma",
            principle="Structural trap",
            severity="error",
            fact="parallelism",
            when={"ep_over_ethernet": True},
            message="EP {ep} spreads a replica of {replica_gpus} GPUs over nodes of {gpus_per_node} joined by "
            "{inter_node_fabric}: every MoE layer's all-to-all leaves the NVLink domain ({nvlink_domain}) without RDMA.",
            remedy="Keep EP inside one node or NVLink domain (EP <= {gpus_per_node}), or join the nodes with "
            "InfiniBand or RoCE (hardware.inter_node_fabric) and size the all-to-all on it.",
            evidence=["ep", "replica_gpus", "gpus_per_node", "nvlink_domain", "inter_node_fabric"],
        ),
        Rule(
            id="trap.ep-across-nodes",
            principle="Structural trap",
            severity="warning",
            fact="parallelism",
            when={"ep_over_rdma": True},
            message="EP {ep} spreads a replica of {replica_gpus} GPUs over nodes of {gpus_per_node}: every MoE "
            "layer's all-to-all crosses {inter_node_fabric} (unspecified is sized as InfiniBand), outside the "
            "NVLink domain ({nvlink_domain}).",
            remedy="Benchmark the all-to-all at the planned batch (step 10) before committing; wide EP needs "
            "a rail-optimised RDMA fabric and the runtime's EP kernels (e.g. DeepEP).",
            evidence=["ep", "replica_gpus", "gpus_per_node", "nvlink_domain", "inter_node_fabric"],
        ),
        Rule(
            id="trap.disaggregation-without-rdma",
            principle="Structural trap",
            severity="error",
            fact="disaggregation",
            when={"$and": [{"disaggregated": True}, {"rdma": False}]},
            message="Disaggregated prefill/decode moves the KV cache over {kv_transport}, without RDMA.",
            remedy="Use an RDMA transport (NIXL/UCX over InfiniBand or RoCE) or serve aggregated.",
            evidence=["disaggregated", "kv_transport"],
        ),
        Rule(
            id="trap.pipeline-underfilled",
            principle="Structural trap",
            severity="warning",
            fact="parallelism",
            when={"pp_underfilled": True},
            message="PP {pp} with only {per_replica} requests per replica leaves pipeline stages idle.",
            remedy="Use TP within a node instead, or size for at least {pp} x 2 concurrent requests per replica.",
            evidence=["pp", "per_replica"],
        ),
        Rule(
            id="trap.model-does-not-fit",
            principle="Structural trap",
            severity="error",
            fact="fleet",
            when={"weights_fit": False},
            message="The weights need {weights_gib_per_gpu:,.1f} GiB per GPU, more than the {hbm_gib:g} GiB the GPU has.",
            remedy="More GPUs per replica (TP/PP), lower weight precision, or a GPU with more memory.",
            evidence=["weights_gib_per_gpu", "hbm_gib"],
        ),
    ],
)
