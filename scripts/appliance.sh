#!/usr/bin/env bash
# Prepares a host to run flowgate in DPDK mode on a NIC of its own (an appliance), or says
# what it would do. Run as root on the appliance, never on a shared build machine.
#
#   scripts/appliance.sh check                 what the host has: CPUs, NUMA, hugepages, NICs
#   scripts/appliance.sh hugepages [N]         reserve N 2 MiB hugepages (default 1024 = 2 GiB)
#                                              and mount hugetlbfs at /dev/hugepages
#   scripts/appliance.sh bind PCI              load vfio-pci and bind the NIC at PCI to it
#                                              (the kernel loses the interface)
#   scripts/appliance.sh unbind PCI DRIVER     give the NIC back to its kernel DRIVER
#   scripts/appliance.sh install               install the binary, config and systemd unit
#
# Isolating the worker CPUs from the scheduler is a kernel command-line setting this script
# does not change; `check` prints the line to add (isolcpus, nohz_full, rcu_nocbs).
set -euo pipefail
cd "$(dirname "$0")/.."

devbind() {
  if command -v dpdk-devbind.py >/dev/null; then dpdk-devbind.py "$@"; else
    echo "appliance.sh: dpdk-devbind.py not found (Debian package dpdk)" >&2
    exit 1
  fi
}

cmd="${1:-check}"
case "$cmd" in
  check)
    echo "CPUs: $(nproc) online; NUMA nodes: $(ls -d /sys/devices/system/node/node* 2>/dev/null | wc -l)"
    grep -E 'HugePages_(Total|Free)|Hugepagesize' /proc/meminfo || true
    echo "kernel command line: $(cat /proc/cmdline)"
    last=$(( $(nproc) - 1 ))
    if [ "$last" -ge 2 ]; then
      echo "suggested for workers on CPUs 2-$last: isolcpus=2-$last nohz_full=2-$last rcu_nocbs=2-$last"
      echo "then in flowgate.conf: [collector.dpdk] exporter_lcores = [1], worker_lcores = [2, ...]"
    fi
    if command -v dpdk-devbind.py >/dev/null; then dpdk-devbind.py --status-dev net; fi
    ;;
  hugepages)
    pages="${2:-1024}"
    echo "$pages" > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
    mkdir -p /dev/hugepages
    mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
    grep -E 'HugePages_(Total|Free)' /proc/meminfo
    ;;
  bind)
    pci="${2:?usage: appliance.sh bind PCI}"
    modprobe vfio-pci
    devbind --bind=vfio-pci "$pci"
    devbind --status-dev net
    ;;
  unbind)
    pci="${2:?usage: appliance.sh unbind PCI DRIVER}"
    driver="${3:?usage: appliance.sh unbind PCI DRIVER}"
    devbind --bind="$driver" "$pci"
    ;;
  install)
    install -m 0755 build/flowgate /usr/local/bin/flowgate
    install -d /etc/flowgate
    [ -f /etc/flowgate/flowgate.conf ] || install -m 0644 config/flowgate.conf /etc/flowgate/flowgate.conf
    install -m 0644 config/systemd/flowgate.service /etc/systemd/system/flowgate.service
    echo "installed; edit /etc/flowgate/flowgate.conf, then: systemctl enable --now flowgate"
    ;;
  *)
    sed -n '2,15p' "$0"
    exit 2
    ;;
esac
