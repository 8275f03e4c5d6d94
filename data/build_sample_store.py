"""Rebuild data/sample-store, the bundled sample collection, with `planner ingest`.

Every run comes from a public file in ../shared/datasets and is labelled origin=published with
its source. Usage: python data/build_sample_store.py [--datasets DIR] [--out DIR]
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


def build(datasets: Path, out: Path) -> None:
    """Ingest every published file into a fresh store at ``out``."""
    if out.exists():
        shutil.rmtree(out)
    for files, options, source_ref in PUBLISHED:
        cmd = [sys.executable, "-m", "planner.cli", "ingest", *(str(datasets / f) for f in files), "--store", str(out),
               "--origin", "published", "--source-ref", source_ref, *options]
        subprocess.run(cmd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "sample-store")
    args = parser.parse_args()
    build(args.datasets, args.out)


if __name__ == "__main__":
    main()
