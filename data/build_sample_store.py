"""Rebuild data/sample-store, the bundled sample collection.

Two parts: every public file in tests/datasets (a copy of ../shared/datasets) through `planner ingest` (origin=published,
with its source), and emulated instance profiles: `planner serve-local --profile P` load-tested
by `planner collect` (real Locust, loopback; origin=emulated, labelled with the profile). The
emulated part takes ~25 minutes on 2 cores; `--published-only` skips it.
Usage: python data/build_sample_store.py [--datasets DIR] [--out DIR] [--published-only]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (files relative to the datasets dir, extra `planner ingest` options, source reference)
PUBLISHED = [
    (["locust/louskac_deep-vision__results_stats.csv", "locust/louskac_deep-vision__results_stats_history.csv",
      "locust/louskac_deep-vision__results_failures.csv", "locust/louskac_deep-vision__results_exceptions.csv"],
     ["--endpoint", "deep-vision", "--label", "variant=baseline"], "louskac/deep-vision @ 5d084663"),
    (["locust/louskac_deep-vision__results_optimized_stats.csv",
      "locust/louskac_deep-vision__results_optimized_stats_history.csv",
      "locust/louskac_deep-vision__results_optimized_failures.csv",
      "locust/louskac_deep-vision__results_optimized_exceptions.csv"],
     ["--endpoint", "deep-vision", "--label", "variant=optimized"], "louskac/deep-vision @ 5d084663"),
    (["locust/zhajiangmian2342_20200823__locust_stats.csv", "locust/zhajiangmian2342_20200823__locust_stats_history.csv",
      "locust/zhajiangmian2342_20200823__locust_failures.csv"], [], "zhajiangmian2342/20200823 @ 5fe0e1a8"),
    (["locust/nogibjj_wine-prediction-app__results_stats.csv",
      "locust/nogibjj_wine-prediction-app__results_stats_history.csv",
      "locust/nogibjj_wine-prediction-app__results_failures.csv",
      "locust/nogibjj_wine-prediction-app__results_exceptions.csv"], [], "nogibjj/wine-prediction-app @ de11a7e8"),
    (["locust/instarwxp_llm-inference-platform__results_stats.csv"], [], "instarwxp/llm-inference-platform @ e8d64563"),
    (["locust/CDLUC3_mrt-locust__sample.md__locust_json_output.json"], [], "CDLUC3/mrt-locust @ 3a480e5c : sample.md"),
    (["sagemaker-mme-gpu/aws-samples_sagemaker-mme-gpu-benchmarking__cv-benchmark__load_test_summary_table.csv",
      ], ["--model", "resnet50"], "aws-samples/sagemaker-mme-gpu-benchmarking @ ebcfe11c : cv-benchmark.ipynb"),
    (["sagemaker-mme-gpu/aws-samples_sagemaker-mme-gpu-benchmarking__cv-benchmark__gpu_memory_model_loading_stdout.txt"],
     ["--instance-type", "ml.g4dn.2xlarge", "--model", "resnet50"],
     "aws-samples/sagemaker-mme-gpu-benchmarking @ ebcfe11c : cv-benchmark.ipynb"),
    (["sagemaker-mme-gpu/aws-samples_sagemaker-mme-gpu-benchmarking__cv-benchmark__locust_stats_csv_polled_rows_stdout.txt"],
     ["--instance-type", "ml.g4dn.2xlarge", "--model", "resnet50"],
     "aws-samples/sagemaker-mme-gpu-benchmarking @ ebcfe11c : cv-benchmark.ipynb"),
    (["recommender/ir_doc_default_job_describe_sample.pyrepr.txt"], [],
     "awsdocs/amazon-sagemaker-developer-guide @ b01b6e4b : inference-recommender-instance-recommendation.md"),
    (["recommender/ir_doc_advanced_job_describe_sample.pyrepr.txt"], [],
     "awsdocs/amazon-sagemaker-developer-guide @ b01b6e4b : inference-recommender-load-test.md"),
    (["serverless-toolkit/smsb_mobilenet_metrics_with_cost.csv"], ["--model", "mobilenet-v2"],
     "aws-samples/sagemaker-serverless-inference-benchmarking @ fb31311"),
    (["serverless-toolkit/smsb_mobilenet_cost_savings_summary.csv"], ["--model", "mobilenet-v2"],
     "aws-samples/sagemaker-serverless-inference-benchmarking @ fb31311"),
    (["perf_analyzer/perf_analyzer_inception_example.csv"], ["--model", "inception"],
     "triton-inference-server/perf_analyzer @ 263c5f6e : docs/measurements_metrics.md"),
    (["usl/usl_specsdm91.csv"], ["--label", "benchmark=specsdm91"], "Gunther, Guerrilla Capacity Planning (smoeding/usl)"),
    (["usl/usl_raytracer.csv"], ["--label", "benchmark=raytracer"], "Gunther, Guerrilla Capacity Planning (smoeding/usl)"),
]


# serve-local profile: open-loop arrival rates (Poisson, `rate:` shapes) from ~10% to ~90% of the
# profile's capacity, so the runs show the latency rise a queue makes as it fills; the 35 s holds
# leave 25 s per level after the 10 s trim of `planner.steps`. Capacities (rps): m5 160, c5 400,
# g4dn PyTorch 114.8, TensorRT 137.3.
EMULATED = {
    "m5.xlarge-small-model": "rate:rps=16,32..144,hold=35s,user-rps=2",
    "c5.2xlarge-small-model": "rate:rps=40,80..360,hold=35s,user-rps=4",
    "g4dn.2xlarge-resnet50-pt": "rate:rps=10,20..100,hold=35s,user-rps=0.5",
    "g4dn.2xlarge-resnet50-trt": "rate:rps=12,24..120,hold=35s,user-rps=0.5",
}


def build(datasets: Path, out: Path, emulated: bool = True) -> None:
    """Ingest every published file, then (optionally) collect the emulated profiles, into ``out``."""
    if out.exists():
        shutil.rmtree(out)
    for files, options, source_ref in PUBLISHED:
        cmd = [sys.executable, "-m", "planner.cli", "ingest", *(str(datasets / f) for f in files), "--store", str(out),
               "--origin", "published", "--source-ref", source_ref, *options]
        subprocess.run(cmd, check=True)
    if emulated:
        for profile, shape in EMULATED.items():
            collect_profile(out, profile, shape)


def collect_profile(out: Path, profile: str, shape: str) -> None:
    """serve-local with ``profile`` on a free loopback port, load-tested by `planner collect`."""
    from planner.collect.endpoint import LocalEndpoint, profile_settings

    settings = profile_settings(profile)
    with LocalEndpoint(settings) as endpoint:
        cmd = [sys.executable, "-m", "planner.cli", "collect", endpoint.url, "--store", str(out), "--shape", shape,
               "--max-duration-s", "600", "--origin", "emulated", "--instance-type", settings.instance_type,
               "--endpoint", f"serve-local {profile}", "--label", f"profile={profile}",
               "--label", f"emulated_capacity_rps={settings.capacity_rps:.1f}"]
        subprocess.run(cmd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO / "tests" / "datasets")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "sample-store")
    parser.add_argument("--published-only", action="store_true", help="skip the emulated profiles")
    args = parser.parse_args()
    build(args.datasets, args.out, emulated=not args.published_only)


if __name__ == "__main__":
    main()
