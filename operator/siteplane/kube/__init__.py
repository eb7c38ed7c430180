"""Every call siteplane makes to the Kubernetes API, with one timeout policy (kube/client.py).

Nothing outside this package speaks to the API server, except kopf itself (watches, admission,
peering), which handlers/ configures with the same timeout.
"""
