"""One function per question a user asks, over a run collection and a frozen scenario.

==============================  =========================  ==========================================
question                        module                     function (scenario)
==============================  =========================  ==========================================
fitted curves (`planner fit`)   ``scenarios.realtime``     ``fit_configurations`` (``FitScenario``)
size real-time                  ``scenarios.realtime``     ``size_realtime`` (``RealtimeScenario``)
size serverless                 ``scenarios.serverless``   ``size_serverless`` (``ServerlessScenario``)
size multi-model                ``scenarios.multi_model``  ``size_multi_model`` (``MultiModelScenario``),
                                                           ``multi_model_density``
plan autoscaling                ``scenarios.autoscaling``  ``plan_autoscale`` (``AutoscaleScenario``)
compare costs                   ``scenarios.costs``        ``compare_costs`` (``CostScenario``)
LLM curves (`planner llm fit`)  ``scenarios.llm``          ``llm_fits``
size LLM endpoints              ``scenarios.llm``          ``size_llm`` (``LlmScenario``)
autoscale LLM copies            ``scenarios.llm``          ``plan_llm_autoscale`` (``LlmAutoscaleScenario``)
==============================  =========================  ==========================================

Each reads a :class:`~planner.scenarios.source.RunSource` (``open_runs``: the user's collection, the
bundled sample standing in for it, or beside it with ``include_sample``), which keeps the steps, fits
and series it computed and uses the on-disk fit cache; each merges the notes of what it gathered into
the answer. The CLI, the app, the notebooks and the exports call these; the decisions in
:mod:`planner.recommend` never read a collection. This package module imports nothing, so the CLI
starts without loading the fitting code.
"""
