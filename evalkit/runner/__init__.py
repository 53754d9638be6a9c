"""The runner: tasks x backend -> responses, through the persistent response cache. Policy
(caching, batching, progress, error accounting) lives here, not in the backends."""
