-- Scale-out: the same table on every ClickHouse server of cluster `flowgate` (define it in
-- remote_servers), and a Distributed table in front of it on each server. flowgate instances
-- write to `flows` on any server; ClickHouse spreads rows over the shards. The sharding key is
-- a hash of (batch_id, row), so a retried INSERT lands on the shard that holds the first copy
-- and ReplacingMergeTree can merge them. Query `flows` (FINAL works per shard, which is enough
-- since copies share a shard).
-- Run each statement on every server (or once with ON CLUSTER when ZooKeeper is configured).
CREATE TABLE IF NOT EXISTS flows_local
(
    flush_timestamp UInt64,
    type String,
    sampling_rate UInt64,
    direction String,
    start UInt64,
    `end` UInt64,
    bytes UInt64,
    packets UInt64,
    ether_type String,
    ip_protocol String,
    device_namespace String,
    exporter_ip String,
    source_ip String,
    source_port String,
    source_mac String,
    source_mask String,
    destination_ip String,
    destination_port String,
    destination_mac String,
    destination_mask String,
    ingress_interface_index UInt32,
    egress_interface_index UInt32,
    host String,
    tcp_flags Array(String),
    next_hop_ip String,
    batch_id UInt64,
    row UInt32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(toDateTime(`end`))
ORDER BY (toStartOfHour(toDateTime(`end`)), exporter_ip, batch_id, row);

CREATE TABLE IF NOT EXISTS flows AS flows_local
ENGINE = Distributed(flowgate, currentDatabase(), flows_local, cityHash64(batch_id, row));
