"""Public LLM benchmark result files planner knows, by SHA-256 of their bytes -> where they come from
(repository @ commit : path), as recorded in the shared data set's README. An input whose bytes match
is ingested with origin "published" and this source_ref; any other input is the user's own."""

PUBLISHED: dict[str, str] = {
    "c5037452c8bde097da90a546eb7a8b10f90be4410dcb17b643047c776e132f22":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/bench-v2-gptoss20b-vanilla_g512xl_g512xlarge_multiturn_chat_useast1_20260309_220249.csv",
    "425225e1ecb1decce52577f9ee2cf9aa4aba6420a414a0ef6ad285304fba763b":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/bench-v2-qwen3-vanilla_g6e12xl_g6e12xlarge_multiturn_chat_useast1_20260309_215329.csv",
    "1f59cbf12c48345e7d2a789ec98c67e1993770d0a2d234216960872f309de7bd":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/bench-v2-qwen3-vanilla_g7e2xl_g7e2xlarge_multiturn_chat_uswest2_20260310_001220.csv",
    "2cc5a62d79136e45fa9e227ed595a408d6af6589f5edb76e5f76cea42931b129":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_155933.csv",
    "2179dd1ddaf9267cac9f1d3ee8270f8866dcf3600fa67aca3fe3a91df47c0329":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_182735.csv",
    "4778a050ce462afd724b43c7f2f314f6672d230cf6b29428886caf68d5dd06dc":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/gpt-oss-20b_g6e_g6e12xlarge_tool_calling_useast1_20260310_183333.csv",
    "cba40b1b591697b83237f8ea65a0b767dc66e3dacda1b81f2760a6cd49776326":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/gpt-oss-20b_g7e_g7e2xlarge_multiturn_chat_uswest2_20260310_175533.csv",
    "fcd6636905677cdf1e37c5274ab11cfebf6901798f5e70d1cc4a9a3ef5ef7450":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv",
    "a4c1906fa3a6c39a81502e34a18232d90d2e05dfbbe7f0369d984a00b23846d1":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/overnight-qwen3-vanilla_g512xl_g512xlarge_multiturn_chat_uswest2_20260310_002230.csv",
    "6ca836bf402d334e6df4c6801f4a32b5a0425cbd4a0bcf2682bd9dbaab2f4651":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/matrix/qwen3-14b_vanilla_g7e2xl_multiturn_chat_uswest2_20260331_130747.csv",
    "6fa59b54d607022e655c2dccd83c32c658cbf74ab56a5037b7766ee8cded3ba2":
        "aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf3755815277bce18a7421303aa1d0a663 : 07-benchmark/sagemaker-inference-benchmark-suite/results/backup_mar_9/qwen3-prefix-cache_g512xl_g512xlarge_tool_calling_uswest2_20260309_211615.csv",
    "a989fd48a601d7dfb47241e57dedc637f4192366597d190811594f7f20322756":
        "aws-samples/foundation-model-benchmarking-tool @ 77ebb0cdf251fec22e335b02e564bb5dbdc6597a : llama3-8b-trn1.32xl-ec2-triton-madhureks/data/metrics/(yyyy=…/mm=…/dd=…/hh=…/mm=… of 20240930T2048)/summary_metrics_for_dataset_w_scores.csv",
    "fbfa1266bec16c10d11acb10df07053f36cb21d861ce59217da6348a9a62962c":
        "aws-samples/foundation-model-benchmarking-tool @ 48bf0a4621ba2abd3f6ace4274d403d874c5460d : llama3-8b-trn1.32xl-ec2-triton-ec2_fmbench/data/metrics/(yyyy=…/mm=…/dd=…/hh=…/mm=… of 20240927T2237)/summary_metrics_for_dataset_w_scores.csv",
    "be71a53fd041e113fb3f7dc9d7c7d5170ff801be663ff245149da97298a6c279":
        "aws-samples/foundation-model-benchmarking-tool @ 7db0faa1937a745094513b5e273c8a37f282325f : llama3-1-8b-g5.4xl-ec2-ec2adminrole/data/metrics/(yyyy=…/mm=…/dd=…/hh=…/mm=… of 20241129T1605)/summary_metrics_for_dataset_w_scores.csv",
    "cbd2696a3f18d2608987caf37f740fea864115cc58780120dba8a289e627ecae":
        "aws-samples/foundation-model-benchmarking-tool @ d8814208fb3a9b6f0aa7e986e868ea3759d801ce : llama3-8b-g5.2xl-djl-ec2-fmbench-orchestrator/data/metrics/(yyyy=…/mm=…/dd=…/hh=…/mm=… of 20250126T1654)/summary_metrics_for_dataset_w_scores.csv",
    "f7e4986308d4fd0743109b65029470b665ba4ec3deb749187db2c3ddae13c779":
        "surajssd/llm-k8s @ 58b61c59450e06073120a8ad166c1e9c333851a7 : results_serving_meta-llama-Llama-3.3-70B-Instruct/01_tp8_pp1/serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_01.json",
    "4c9ece53c18d9fb0db0f37c5fbe5e23e301d802a568fb1ccaed5e9134b9ad19e":
        "surajssd/llm-k8s @ 58b61c59450e06073120a8ad166c1e9c333851a7 : results_serving_meta-llama-Llama-3.3-70B-Instruct/01_tp8_pp1/serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_04.json",
    "6d4a5f649bc53b3b3fb50b73eb39d2fe9d1061a30f8232d247d0884f39afcf0a":
        "surajssd/llm-k8s @ 58b61c59450e06073120a8ad166c1e9c333851a7 : results_serving_meta-llama-Llama-3.3-70B-Instruct/01_tp8_pp1/serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_16.json",
    "ca48cb6604ef05bfc70897de272267bb2724600d3696ed3cef01e0d8bf6c7133":
        "surajssd/llm-k8s @ 58b61c59450e06073120a8ad166c1e9c333851a7 : results_serving_meta-llama-Llama-3.3-70B-Instruct/01_tp8_pp1/serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_inf.json",
    "fe6271824a47e806422eee142e9bc631a5f9d8b8bb3f017343bbd73161bc8ac9":
        "datacrunch-research/h200-benchmarks @ c091ef530a525d2e788bc41c39a4450b09c9f2ad : sglang/outputs/llama_3_3_70b_online_output.jsonl",
    "bc102960479bb04214bd0ceb75ece84da4d3137521c464a5aecb074b4709c3ee":
        "ray-project/llmperf-leaderboard @ 27aa9b6a6c4282f6d5599b9199fbb57256a2dcd8 : raw_data/summary/anyscale_70b.json",
    "9b57938ac2bacb2ac352ec6b15b36b271b18f9849ba48dc4397014ba9ae1604a":
        "ray-project/llmperf-leaderboard @ 27aa9b6a6c4282f6d5599b9199fbb57256a2dcd8 : raw_data/summary/bedrock_70b.json",
    "5825920f54a1be4a1e3028a8c6c6b9c0416d577abfd9c16d3aa1869a46737b2d":
        "ray-project/llmperf-leaderboard @ 27aa9b6a6c4282f6d5599b9199fbb57256a2dcd8 : raw_data/individual/anyscale_70b.json",
    "4afb1c6eed404970930bbff9dd9dfafb62dea14507eb58f8efe7079a37689ab0":
        "danielkorat/guidellm-bench @ 8f24116d0d1b21073be686c2cce9d796f5c1b59e : guidellm_results/20260302_1917/openai_gpt-oss-20b_tp4_quant-none_benchmarks.json",
    "151f98ec00ee5daf9c2fc8400592141f2d6e6e89f1fc93f74eabbeba11459c8b":
        "danielkorat/guidellm-bench @ 8f24116d0d1b21073be686c2cce9d796f5c1b59e : guidellm_sanity_results/20260302_1856/ (Qwen3-4B-Thinking-2507 tp4 fp8 _benchmarks.json)",
    "fda037cc875cd895eeacd191482cbf43cc09c92325ec483beba005123bda73fb":
        "jhurlocker/guidellm-pipeline @ c925e317ed651153ae80ce7d192a2a02272b5bd2 : utils/guidellm-wb/results/llama-3-2-3b_20250721_003902/benchmark-results.yaml",
    "a133af8d0249e2f55241f87904ea280d5413d760782ff2ece5230cebaf69dba4":
        "wellflat/k8s-dev @ e17e8f5bba3c89386751c0d8695764102d939e44 : bench/etl/profile_export_genai_perf.json",
    "395177590c966d6dba158d23007d51468aeebf80f99352b7bd4809e980a71daf":
        "wellflat/k8s-dev @ 7250dddcb310d985fc9547fff7de7e69ce32ac81 : bench/aiperf/profile_export_aiperf.json",
}
