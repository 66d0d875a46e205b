"""Locust adapters: the run and its verdict inputs, options, checks, signals, shape and dispatch,
the worker -> master exchange, recorder, arrival, health, resources, correctness, faults, samplers.

    run.ErploadRun          environment.erpload: run state, mark_invalid / mark_interrupted, finalize
    options.add_options     every erpload command-line option
    checks                  exit 2 before any load (profile, settings, credentials, report dir, workers)
    signals                 SIGINT/SIGTERM -> an interrupted run (exit 5), reports written
    exchange.Exchange       THE worker -> master path (data["erpload"][key])
    shapes.ProfileShape     the load profile as a LoadTestShape (dispatch.ProfileDispatcher: exact mixes)
    load.load_section       summary.json `load`; under-delivery (open: dropped iterations, closed: progress)
"""
