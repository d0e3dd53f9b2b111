"""League-aware features and forecast targets built from daily prices (polars + numpy, no look-ahead): what each
feature means, and the numeric kernels that compute rolling statistics fast."""
