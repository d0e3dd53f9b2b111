"""Running the whole graph for a demo: materialize every partition in dependency order, and the live demo against the
local POE Watch server."""
