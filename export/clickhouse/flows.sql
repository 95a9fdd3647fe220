-- flowgate's ClickHouse table (ClickHouse 18.16 or later), one column per record field.
-- The record's nested keys are flattened with '_' (source.ip -> source_ip); addresses are
-- strings (18.16 has no IPv6 type). batch_id and row identify a record of a batch: a retried
-- INSERT writes the same rows again and ReplacingMergeTree keeps one of them when parts merge,
-- so count with FINAL (or GROUP BY batch_id, row) when an exact figure matters.
-- Sorting: the hour of `end` (seconds since the epoch), then the exporter, so that "top
-- talkers by source / destination / port / exporter over the last N hours" reads only the
-- hours asked for; one partition per day. No MATERIALIZED time column: a Distributed table in
-- front (flows_distributed.sql) would refuse inserts into it.
CREATE TABLE IF NOT EXISTS flows
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
