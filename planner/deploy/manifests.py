"""The platform's manifests around the engine command, as plain YAML a platform team reviews.

One function per target returns ``{file name: data}``; :func:`render_files` writes every
file with the header naming the plan. Formats follow each platform's documentation:
Kubernetes apps/v1 Deployment and Service; KServe serving.kserve.io/v1beta1 InferenceService
(https://kserve.github.io/website/docs/model-serving/generative-inference/overview);
the llm-d modelservice Helm chart values (https://github.com/llm-d-incubation/llm-d-modelservice);
Dynamo nvidia.com/v1alpha1 DynamoGraphDeployment (https://docs.nvidia.com/dynamo/latest/kubernetes/);
Ray Serve LLM ``build_openai_app`` config (https://docs.ray.io/en/latest/serve/llm/index.html).
Secrets are referenced by name (:data:`HF_TOKEN_SECRET`), never written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from planner.deploy.runtime_args import ServeCommand, serve_command
from planner.deploy.values import HF_TOKEN_SECRET, DeployError, DeployValues, kubernetes_name, pool_values
from planner.sizing.deployment import Deployment

OPTIONS_FILE = "extra-llm-api-options.yaml"


def launch_argv(values: DeployValues, command: ServeCommand) -> list[str]:
    """The whole server command line: launch, model, arguments."""
    runtime = values.runtime
    if runtime.id == "sglang":
        return [*runtime.launch, "--model-path", values.model_source, "--host", "0.0.0.0", *command.args]
    return [*runtime.launch, values.model_source, "--host", "0.0.0.0", *command.args]


def _labels(values: DeployValues) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": values.name,
        "app.kubernetes.io/component": "inference",
        "app.kubernetes.io/managed-by": "planner",
    }


def _resources(values: DeployValues) -> dict[str, Any]:
    gpus = str(values.gpus_per_replica)
    return {"limits": {values.gpu_resource: gpus}, "requests": {values.gpu_resource: gpus}}


def _secret_env() -> list[dict[str, Any]]:
    return [
        {
            "name": "HF_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": HF_TOKEN_SECRET, "key": "token", "optional": True}},
        }
    ]


def _scrape_annotations(values: DeployValues) -> dict[str, str]:
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(values.value("port")),
        "prometheus.io/path": values.runtime.metrics_path,
    }


def _container(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    argv = launch_argv(values, command)
    container: dict[str, Any] = {
        "name": values.runtime.id,
        "image": values.require_image(),
        "command": argv[:1],
        "args": argv[1:],
        "ports": [{"name": "http", "containerPort": values.value("port")}],
        "env": _secret_env(),
        "resources": _resources(values),
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10},
    }
    if command.options:
        container["volumeMounts"] = [{"name": "engine-options", "mountPath": "/config"}]
    return container


def _single_node(values: DeployValues) -> None:
    if values.gpus_per_replica > values.gpus_per_node:
        raise DeployError(
            f"one replica needs {values.gpus_per_replica} GPUs but a {values.gpu_id} node has {values.gpus_per_node}; "
            f"the manifests this planner writes place a replica on one node (multi-node replicas, e.g. with "
            "LeaderWorkerSet, are not generated yet)",
            path="runtime.pp",
            fix=f"pin runtime.tp x runtime.pp to at most {values.gpus_per_node} GPUs and plan again",
        )


def node_spread(nodes: int, pods: dict[str, str]) -> list[dict[str, Any]]:
    """The pods ``pods`` selects, per node within one of each other, over ``nodes`` nodes at least:
    Kubernetes' pod topology spread (``minDomains``, stable since 1.30, counts the nodes still missing
    as holding none, so the scheduler leaves pods pending rather than stack them on fewer nodes).
    Empty where one node is spread enough."""
    if nodes <= 1:
        return []
    return [
        {
            "maxSkew": 1,
            "minDomains": nodes,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": pods},
        }
    ]


def runtime_server(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    """A plain engine server: Deployment of all replicas (spares included) and a Service."""
    _single_node(values)
    pod: dict[str, Any] = {"containers": [_container(values, command)]}
    if command.options:
        pod["volumes"] = [{"name": "engine-options", "configMap": {"name": f"{values.name}-options"}}]
    if spread := node_spread(values.spread_nodes, {"app.kubernetes.io/name": values.name}):
        pod["topologySpreadConstraints"] = spread
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": values.name, "labels": _labels(values)},
        "spec": {
            "replicas": values.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": values.name}},
            "template": {
                "metadata": {"labels": _labels(values), "annotations": _scrape_annotations(values)},
                "spec": pod,
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": values.name, "labels": _labels(values)},
        "spec": {
            "selector": {"app.kubernetes.io/name": values.name},
            "ports": [{"name": "http", "port": values.value("port"), "targetPort": "http"}],
        },
    }
    documents: list[Any] = [deployment, service]
    files: dict[str, Any] = {"serve.sh": launch_argv(values, command)}
    if command.options:
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{values.name}-options", "labels": _labels(values)},
                "data": {OPTIONS_FILE: yaml.safe_dump(command.options, sort_keys=False)},
            }
        )
        files[OPTIONS_FILE] = command.options
    files["deployment.yaml"] = documents
    return files


def kserve(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    """A KServe InferenceService on the Hugging Face (vLLM) serving runtime."""
    _single_node(values)
    # KServe's server owns the port and names the model (--model_name), so those two engine flags stay out.
    engine = _without(_without_port(command.args), "--served-model-name")
    args = [f"--model_name={values.model_id}", f"--model_id={values.model_source}", *engine]
    predictor: dict[str, Any] = {
        "minReplicas": values.replicas,
        "maxReplicas": values.replicas,
        "model": {
            "modelFormat": {"name": "huggingface"},
            "args": args,
            "env": _secret_env(),
            "resources": _resources(values),
        },
    }
    # KServe labels every predictor pod with its InferenceService and component (v0.20.0,
    # pkg/controller/v1beta1/inferenceservice/components/predictor.go), and PredictorSpec inlines a pod spec.
    predictor_pods = {"serving.kserve.io/inferenceservice": values.name, "component": "predictor"}
    if spread := node_spread(values.spread_nodes, predictor_pods):
        predictor["topologySpreadConstraints"] = spread
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": values.name,
            "labels": _labels(values),
            "annotations": {"serving.kserve.io/enable-prometheus-scraping": "true"},
        },
        "spec": {"predictor": predictor},
    }
    return {"inferenceservice.yaml": service}


def llm_d(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    """Values for the llm-d modelservice chart: one decode pool (aggregated, no prefill pool), or the
    prefill and decode pools of a disaggregated plan."""
    _single_node(values)
    pools = values.pools

    def container(own: DeployValues, own_command: ServeCommand) -> dict[str, Any]:
        argv = launch_argv(own, own_command)
        if pools is not None:  # both pools move the KV cache through vLLM's NIXL connector
            argv = [*argv, "--kv-transfer-config", NIXL_CONNECTOR]
        return {
            "name": values.runtime.id,
            "image": values.require_image(),
            "modelCommand": "custom",
            "command": argv[:1],
            "args": argv[1:],
            "env": _secret_env(),
            "ports": [{"containerPort": values.value("port"), "name": "metrics", "protocol": "TCP"}],
            "resources": _resources(own),
        }

    def pool(role: str, replicas: int, layout: Deployment | None = None) -> dict[str, Any]:
        own = pool_values(values, layout)
        out = {
            "create": True,
            "replicas": replicas,
            "parallelism": {"tensor": own.value("tensor_parallel"), "data": own.value("data_parallel") or 1},
            "monitoring": {"podmonitor": {"enabled": True, "path": values.runtime.metrics_path}},
            "containers": [container(own, command if layout is None else serve_command(own))],
        }
        # The chart labels a pool's pods with modelArtifacts.labels and llm-d.ai/role, and writes
        # extraConfig into their pod spec (llm-d-modelservice v0.4.12, templates/_helpers.tpl).
        pods = {LLM_D_MODEL_LABEL: values.name, "llm-d.ai/role": role}
        if spread := node_spread(values.spread_nodes_for(replicas), pods):
            out["extraConfig"] = {"topologySpreadConstraints": spread}
        return out

    chart = {
        "modelArtifacts": {
            "uri": f"hf://{values.model_source}",
            "name": values.model_id,
            "authSecretName": HF_TOKEN_SECRET,
            # the chart's default label, and one naming this deployment that no other release's pods carry
            "labels": {"llm-d.ai/inference-serving": "true", LLM_D_MODEL_LABEL: values.name},
        },
        "routing": {"servicePort": values.value("port"), "proxy": {"enabled": False}},
        "decode": pool("decode", pools.decode_replicas, pools.decode) if pools else pool("decode", values.replicas),
        "prefill": pool("prefill", pools.prefill_replicas, pools.prefill) if pools else {"create": False},
    }
    return {"llm-d-values.yaml": chart}


#: The pod label that names an llm-d deployment's pods (the chart's examples set it in modelArtifacts.labels).
LLM_D_MODEL_LABEL = "llm-d.ai/model"

#: vLLM's KV transfer through NIXL, for both pools (https://docs.vllm.ai/en/latest/features/nixl_connector_usage.html).
NIXL_CONNECTOR = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'


#: Dynamo's engine worker module per runtime (python -m dynamo.<name>).
_DYNAMO_WORKER = {"vllm": "dynamo.vllm", "sglang": "dynamo.sglang", "trtllm": "dynamo.trtllm"}


def dynamo(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    """A DynamoGraphDeployment: the frontend and one aggregated worker pool, or prefill and decode
    worker pools for a disaggregated plan."""
    _single_node(values)
    graph = {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "DynamoGraphDeployment",
        "metadata": {"name": values.name, "labels": _labels(values)},
        "spec": {
            "services": {
                # The HTTP frontend keeps the same spares as the workers (N+1 or N+2).
                "Frontend": {"componentType": "frontend", "replicas": 1 + values.spares},
                **_dynamo_workers(values, command),
            }
        },
    }
    return {"dynamo-graph.yaml": graph}


#: The arguments that make a Dynamo worker a prefill or a decode worker, per engine (Dynamo's
#: disaggregated examples: components/backends/{vllm,sglang}/deploy/disagg.yaml).
_DYNAMO_ROLE_ARGS = {
    ("vllm", "prefill"): ["--is-prefill-worker"],
    ("vllm", "decode"): [],
    ("sglang", "prefill"): ["--disaggregation-mode", "prefill"],
    ("sglang", "decode"): ["--disaggregation-mode", "decode"],
}


def _dynamo_workers(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    """Dynamo's worker services: one aggregated pool, or a prefill and a decode pool (each with its
    own parallelism where the sizing gave it its own layout)."""

    def worker(name: str, replicas: int, extra: list[str], layout: Deployment | None = None) -> dict[str, Any]:
        own = pool_values(values, layout)
        args = command.args if layout is None else serve_command(own).args
        out: dict[str, Any] = {
            "componentType": "worker",
            "replicas": replicas,
            "envFromSecret": HF_TOKEN_SECRET,
            "resources": {"limits": {"gpu": str(own.gpus_per_replica)}},
            "extraPodSpec": {
                "mainContainer": {
                    "image": values.require_image(),
                    "command": ["python3", "-m", _DYNAMO_WORKER[values.runtime.id]],
                    "args": ["--model", values.model_source, *_without_port(args), *extra],
                }
            },
        }
        # extraPodSpec inlines a pod spec and extraPodMetadata labels the pods (Dynamo's v1alpha1
        # API, deploy/operator/api/v1alpha1/common.go): the service's own labels select its pods.
        pods = {"app.kubernetes.io/name": values.name, "app.kubernetes.io/component": kubernetes_name(name)}
        if spread := node_spread(values.spread_nodes_for(replicas), pods):
            out["extraPodMetadata"] = {"labels": pods}
            out["extraPodSpec"]["topologySpreadConstraints"] = spread
        return out

    pools = values.pools
    if pools is None:
        return {"Worker": worker("Worker", values.replicas, [])}
    transport = ["--disaggregation-transfer-backend", pools.transport] if values.runtime.id == "sglang" else []
    role = {name: [*_DYNAMO_ROLE_ARGS[values.runtime.id, name], *transport] for name in ("prefill", "decode")}
    return {
        "PrefillWorker": worker("PrefillWorker", pools.prefill_replicas, role["prefill"], pools.prefill),
        "DecodeWorker": worker("DecodeWorker", pools.decode_replicas, role["decode"], pools.decode),
    }


def _without_port(args: list[str]) -> list[str]:
    """Drop ``--port N``: the platform's frontend owns the HTTP port."""
    return _without(args, "--port")


def _without(args: list[str], flag: str) -> list[str]:
    """``args`` without ``flag`` and its value."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        else:
            out.append(arg)
    return out


def ray_serve(values: DeployValues, command: ServeCommand) -> dict[str, Any]:
    """A Ray Serve LLM application config with the engine settings as engine_kwargs."""
    _single_node(values)
    # Ray Serve names the model (model_id) and owns the port; the HF token reaches the Ray pods from the
    # cluster (e.g. a RayService env from the hf-token secret), not from this file.
    args = _without(_without_port(command.args), "--served-model-name")
    engine = {k.lstrip("-").replace("-", "_"): v for k, v in flag_pairs(args)}
    config = {
        "applications": [
            {
                "name": values.name,
                "route_prefix": "/",
                "import_path": "ray.serve.llm:build_openai_app",
                "args": {
                    "llm_configs": [
                        {
                            "model_loading_config": {"model_id": values.model_id, "model_source": values.model_source},
                            # Engine metrics through Ray's metrics export
                            # (https://docs.ray.io/en/master/serve/llm/user-guides/observability.html).
                            "log_engine_metrics": True,
                            "deployment_config": {
                                "autoscaling_config": {"min_replicas": values.replicas, "max_replicas": values.replicas}
                            },
                            "engine_kwargs": engine,
                        }
                    ]
                },
            }
        ]
    }
    return {"ray-serve.yaml": config}


def flag_pairs(args: list[str]) -> list[tuple[str, Any]]:
    """``--flag value`` and ``--switch`` words as (flag, value) pairs (``--no-x`` is x False)."""
    out: list[tuple[str, Any]] = []
    i = 0
    while i < len(args):
        flag = args[i]
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            out.append((flag, typed_word(args[i + 1])))
            i += 2
        else:
            out.append((flag.replace("--no-", "--", 1), not flag.startswith("--no-")))
            i += 1
    return out


def typed_word(text: str) -> Any:
    """A command-line word as the number it spells, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


TARGET_FILES: dict[str, Callable[[DeployValues, ServeCommand], dict[str, Any]]] = {
    "vllm": runtime_server,
    "sglang": runtime_server,
    "trtllm": runtime_server,
    "kserve": kserve,
    "llm-d": llm_d,
    "dynamo": dynamo,
    "ray-serve": ray_serve,
}


def manifests(values: DeployValues) -> dict[str, Any]:
    """The target's files as data (YAML documents, a JSON object, or the serve.sh argv)."""
    command = serve_command(values)
    if values.runtime.id == "trtllm" and command.options and values.target != "trtllm":
        raise DeployError(
            f"TensorRT-LLM needs an options file that the {values.target} manifests here do not mount",
            path="runtime.id",
            fix="deploy TensorRT-LLM with --target trtllm, or pin runtime.id: vllm or sglang",
        )
    return TARGET_FILES[values.target](values, command)


def render(name: str, data: Any, header: list[str]) -> str:
    """One file's text: YAML with a comment header, JSON as is, serve.sh as a shell script."""
    if name.endswith(".json"):
        return json.dumps(data, indent=2) + "\n"
    comment = "".join(f"# {line}\n" for line in header)
    if name.endswith(".sh"):
        words = " \\\n  ".join(" ".join(_shell_word(w) for w in group) for group in _grouped(data))
        return f"#!/bin/sh\n{comment}set -eu\nexec {words}\n"
    docs = data if isinstance(data, list) else [data]
    body = "---\n".join(yaml.safe_dump(d, sort_keys=False, default_flow_style=False) for d in docs)
    return comment + body


def _grouped(argv: list[str]) -> list[list[str]]:
    """The words of a command line, one flag with its value per group (for one line each)."""
    groups: list[list[str]] = []
    for word in argv:
        last = groups[-1] if groups else None
        joins = last is not None and not word.startswith("--") and (len(last) == 1 or not last[0].startswith("--"))
        if last is not None and joins:
            last.append(word)
        else:
            groups.append([word])
    return groups


def _shell_word(word: str) -> str:
    """A word safe for sh: quoted unless it is plain."""
    if word and all(c.isalnum() or c in "-_./:=@" for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
