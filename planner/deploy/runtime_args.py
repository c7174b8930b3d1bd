"""Settings under the engine's own flag names, for the engine version being deployed.

The flag names and the versions that have them come from the runtime catalog
(``flags`` in catalogs/runtimes/*.yaml); a setting the plan needs that the version lacks is
an error naming the missing capability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planner.deploy.values import KNOB_SETTING, DeployError, DeployValues
from planner.specs import RuntimeFlag, RuntimeSpec, in_versions

#: Roles whose value changes what the replica is; a version without the flag cannot realise the plan.
REQUIRED_ROLES = {
    "tensor_parallel": "tensor parallelism",
    "pipeline_parallel": "pipeline parallelism",
    "data_parallel": "data parallelism",
    "expert_parallel": "expert parallelism",
    "attention_dp": "attention data parallelism",
    "max_context": "a maximum context length",
    "max_sequences": "a running-batch limit",
    "kv_budget": "a KV-cache memory budget",
    "kv_dtype": "a KV-cache dtype",
    "quantization": "online weight quantization",
}

#: Values that leave the engine at its own default, so no flag is needed for them.
_NEUTRAL: dict[str, Any] = {"tensor_parallel": 1, "pipeline_parallel": 1, "data_parallel": 1, "kv_dtype": "auto"}


@dataclass(frozen=True)
class ServeCommand:
    """The engine's server command line and, for engines that take one, its options file."""

    argv: list[str]
    options: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # settings the version has no flag for (engine default)

    @property
    def args(self) -> list[str]:
        """The arguments after the launch command and the model."""
        return self.argv


def flag_for(runtime: RuntimeSpec, role: str, version: str) -> RuntimeFlag | None:
    """The flag that sets ``role`` in ``version`` of ``runtime``, if any (a plan knob's setting,
    ``knob NAME``: the knob's own flag, :meth:`RuntimeSpec.knob_flag`)."""
    if role.startswith(KNOB_SETTING):
        return runtime.knob_flag(role.removeprefix(KNOB_SETTING))
    return next((f for f in runtime.flags if f.role == role and in_versions(f.since, f.until, version)), None)


def setting_flags(runtime: RuntimeSpec, version: str) -> dict[str, RuntimeFlag]:
    """Every flag and options-file key a configuration for ``version`` of ``runtime`` may hold, by the
    setting it carries (a role, or ``knob NAME`` for a knob no role flag sets), to read one back."""
    roles = {f.role: f for f in runtime.flags if in_versions(f.since, f.until, version)}
    taken = {f.flag for f in roles.values()}
    knobs = {f"{KNOB_SETTING}{k.name}": runtime.knob_flag(k.name) for k in runtime.knobs}
    return roles | {key: flag for key, flag in knobs.items() if flag is not None and flag.flag not in taken}


def serve_command(values: DeployValues) -> ServeCommand:
    """The server arguments (after the launch command and model) and options file for ``values``.

    :raises DeployError: when the runtime version has no flag for a setting the plan needs.
    """
    runtime, version = values.runtime, values.runtime_version
    argv: list[str] = []
    options: dict[str, Any] = {}
    skipped: list[str] = []
    for role, setting in values.settings.items():
        if _NEUTRAL.get(role) == setting.value:
            continue
        flag = flag_for(runtime, role, version)
        if flag is None:
            if role in REQUIRED_ROLES:
                raise DeployError(
                    f"{runtime.name} {version} has no flag for {REQUIRED_ROLES[role]}, which the plan needs "
                    f"({setting.why})",
                    path="runtime.version",
                    fix=_version_fix(runtime, role, version),
                )
            skipped.append(role)
            continue
        if flag.where == "config":
            _set_dotted(options, flag.flag, setting.value)
        else:
            argv += _cli(flag, setting.value)
    return ServeCommand(argv, options, skipped)


def _cli(flag: RuntimeFlag, value: Any) -> list[str]:
    """One setting as command-line words in the flag's style."""
    if flag.style == "switch":
        return [flag.flag] if value else []
    if flag.style == "inverted":
        return [] if value else [flag.flag]
    if flag.style == "pair":
        return [flag.flag] if value else [flag.flag.replace("--", "--no-", 1)]
    return [flag.flag, str(value)]


def _set_dotted(options: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict."""
    *parents, last = key.split(".")
    for part in parents:
        options = options.setdefault(part, {})
    options[last] = value


def _version_fix(runtime: RuntimeSpec, role: str, version: str) -> str:
    """Where the capability exists: the versions that have a flag for it."""
    if role == "quantization":
        return (
            "use a checkpoint already quantized to the plan's weight precision (set model.id to it: the engine "
            f"reads its quantization config), or a runtime with online quantization; {runtime.id} has no flag for it"
        )
    spans = [
        f"{f.flag} ({'from ' + f.since if f.since else 'early releases'}{' until ' + f.until if f.until else ''})"
        for f in runtime.flags
        if f.role == role
    ]
    if spans:
        return f"pin runtime.version to a {runtime.id} release with {', '.join(spans)}, or choose another runtime"
    return f"choose another runtime: {runtime.id} has no such flag in the catalog at any version"
