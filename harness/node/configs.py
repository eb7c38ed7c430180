"""The node's configuration files: containerd's, the kubelet's, kube-proxy's and the CNI network's.

Two settings exist only because of the machines the tests run on: a container's root may lack
CAP_SYS_RESOURCE, so nothing may ask the kernel for a lower oom_score_adj (containerd's
``restrict_oom_score_adj``, ``oomScoreAdj: 0`` for the kubelet and kube-proxy); and there is no
cluster DNS, which in-cluster clients do not need (they reach the apiserver by
KUBERNETES_SERVICE_HOST, an IP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

POD_CIDR = "10.244.0.0/24"
CNI_BIN_DIR = "/usr/lib/cni"


def containerd_toml(root: Path, state: Path, socket: Path, sandbox_image: str, cni_conf_dir: Path) -> str:
    return f"""version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  # The locally built pause image: nothing is ever pulled.
  sandbox_image = "{sandbox_image}"
  # Never ask for an oom_score_adj below ours (-998 for sandboxes): without CAP_SYS_RESOURCE
  # runc fails every sandbox with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{cni_conf_dir}"
"""


def cni_conflist(bridge: str, ipam_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "0.4.0",
        "name": "siteplane-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(containerd_socket: Path, ca_file: Path, pod_logs: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{containerd_socket}",
        # The apiserver reaches it (logs, exec) with a client certificate of the cluster's CA.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "Webhook"},
        "readOnlyPort": 0,
        "podCIDR": POD_CIDR,
        "resolvConf": "/etc/resolv.conf",
        # A shared test machine's disk and memory are not the node's to defend.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        # The images are imported, never pulled: collecting one would break the next pod.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "nodeStatusReportFrequency": "10s",
        "podLogsDir": str(pod_logs),
        "oomScoreAdj": 0,
    }


def kube_proxy_config(node_name: str, kubeconfig: Path, healthz_port: int, metrics_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        # iptables: ClusterIPs route from pods (PREROUTING) and from the host (OUTPUT), so the
        # apiserver reaches the webhook Service and the tests reach the dashboard's.
        "mode": "iptables",
        "hostnameOverride": node_name,
        "clusterCIDR": POD_CIDR,
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        # Port 0 is refused: real free ports, on loopback.
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        # Leave the host's conntrack table size alone.
        "conntrack": {"maxPerCore": 0},
        "oomScoreAdj": 0,
    }
