"""Per-step time of data-parallel TopK SAE training on N nodes, on paper (docs/mpi-scaling.md).

    python3 bench/mpi_scaling.py

Model: per node, compute = 1.45 x the encoder product (2 (B/N) d c FLOPs; 1.45 measured on a
2-core Zen 4: 33 ms per d 512 x 4,096 step of B 1,024, 21.5 ms of it the product) at NODE_FLOPS;
Adam over all P = 2 d c + c + d parameters on every node, 40 bytes each at MEMORY_BANDWIDTH; a
ring all-reduce of 4 P bytes: 2 (N-1)/N x 4 P / bandwidth + 2 (N-1) x latency.
"""

NODE_FLOPS = 16 * 200e9 * 0.75   # 32 cores of the 2-core machine's kind, at 75%
MEMORY_BANDWIDTH = 200e9
COMPUTE_PER_PRODUCT = 1.45
NETWORKS = (("25 GbE", 25e9 / 8, 10e-6), ("IB 200", 200e9 / 8, 2e-6))
SHAPES = (("d512 x 4,096, B 1,024", 512, 4096, 1024),
          ("d768 x 16,384, B 1,024", 768, 16384, 1024),
          ("d4096 x 65,536, B 4,096", 4096, 65536, 4096))


def step(d, c, batch, nodes, bandwidth, latency):
    p = 2 * d * c + c + d
    compute = COMPUTE_PER_PRODUCT * 2 * (batch / nodes) * d * c / NODE_FLOPS
    adam = 40 * p / MEMORY_BANDWIDTH
    reduce = 0 if nodes == 1 else 2 * (nodes - 1) / nodes * 4 * p / bandwidth + 2 * (nodes - 1) * latency
    return compute, adam, reduce


def main():
    print("| shape, global batch | nodes | network | rows per node | compute ms | Adam ms | all-reduce ms | step (sum) ms "
          "| step (overlap) ms | vectors/s | all-reduce share |")
    for name, d, c, batch in SHAPES:
        for nodes in (1, 8, 64):
            for network, bandwidth, latency in NETWORKS[:1] if nodes == 1 else NETWORKS:
                compute, adam, reduce = step(d, c, batch, nodes, bandwidth, latency)
                total = compute + adam + reduce
                print(f"| {name} | {nodes} | {network if nodes > 1 else '-'} | {batch // nodes:,} | {1e3 * compute:.2f} | {1e3 * adam:.2f} "
                      f"| {1e3 * reduce:.2f} | {1e3 * total:.2f} | {1e3 * max(compute + adam, reduce):.2f} | {batch / total:,.0f} "
                      f"| {reduce / total:.0%} |")
    per_row = COMPUTE_PER_PRODUCT * 2 / NODE_FLOPS   # x d c
    for network, bandwidth, latency in NETWORKS:
        for nodes in (2, 8, 64):
            rows = (2 * (nodes - 1) / nodes * 4 * 2 / bandwidth) / per_row   # the d c factors cancel (latency left out)
            print(f"{network}, {nodes} nodes: the all-reduce costs the compute of {rows:,.0f} rows per node")
    print(f"Adam costs the compute of {40 * 2 / MEMORY_BANDWIDTH / per_row:,.0f} rows per node")


if __name__ == "__main__":
    main()
