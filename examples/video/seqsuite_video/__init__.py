"""Moving-digit clips for seqsuite: a per-frame CNN, then the shared LSTM backbone."""
