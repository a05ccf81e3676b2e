"""ssea as a Cloudflare Python Worker: D1 for the data, R2 for report artifacts.

The bindings and settings come from wrangler.toml and `wrangler secret put`; see
README.md beside this file. Nothing is opened here: the store opens on the first
request, because a Worker may not do I/O or draw randomness at import time.
"""

from ssea_adapters.workers import make_entrypoint

Default = make_entrypoint()
