"""How sure a forecast is: prediction intervals calibrated on walk-forward residuals, the residuals put back beside
their rows, and the forecast table (one row per as-of date with its bands and P(up))."""
