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
