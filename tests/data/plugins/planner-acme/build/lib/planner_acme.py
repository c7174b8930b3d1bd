"""A fictional vendor's plugin, used by the tests as a third party would write it."""

from planner import hookimpl


@hookimpl
def planner_gpus():
    """Return the ACME X1, a made-up accelerator (test data, not a real product)."""
    return [
        {
            "id": "acme-x1",
            "name": "ACME X1 96GB (fictional test accelerator)",
            "aliases": ["acme x1"],
            "vendor": "acme",
            "generation": "acme1",
            "form_factor": "oam",
            "hbm_gib": 96.0,
            "hbm_tb_s": 4.0,
            "dense_tflops": {"bf16": 1000.0, "fp8": 2000.0},
            "tdp_w": 700.0,
            "interconnect": {"kind": "ethernet", "gb_s_per_gpu": 400.0, "pcie_gen": 5},
            "nvlink_domain": 8,
            "gpus_per_node": 8,
            "source": "https://example.invalid/acme-x1-datasheet (test fixture)",
        }
    ]
