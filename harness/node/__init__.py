"""A real Kubernetes node (containerd, kubelet, kube-proxy) joined to a control plane of its own,
so that the chart's Deployments run as pods in the tests (tests/node/)."""
