"""Per-step time of TopK SAE training on N nodes, data-parallel and latent-sharded, on paper
(docs/mpi-scaling.md).

    python3 bench/mpi_scaling.py

Data parallelism. Per node, compute = 1.45 x the encoder product (2 (B/N) d c FLOPs; 1.45
measured on a 2-core Zen 4: 33 ms per d 512 x 4,096 step of B 1,024, 21.5 ms of it the product)
at NODE_FLOPS; Adam over all P = 2 d c + c + d parameters on every node, 40 bytes each at
MEMORY_BANDWIDTH; a ring all-reduce of 4 P bytes: 2 (N-1)/N x 4 P / bandwidth + 2 (N-1) x latency.

Latent sharding (each node holds c/N latents and the whole batch). Per node, the encoder product
over its latents, 2 B d (c/N) FLOPs at NODE_FLOPS; the sparse part (selection, decode, backward
through the winners, the candidates' merge, the B x d loss terms) as measured on the 2-core
machine, 33 - 21.5 - 2.3 = 9.2 ms per d 512 step (B 1,024, k 32), scaled by B k d and run
NODE_FLOPS / 200 GFLOP/s times faster, the same on every node whatever N (an upper bound: each
node decodes and back-propagates only its own winners); Adam over its own 2 d c/N + c/N
parameters and b_dec. Exchanges: a ring all-gather of B k and of B k_aux' (value, latent) pairs,
8 bytes each, (N-1) x (block / bandwidth + latency), where AuxK's block per rank is
k_aux' = min(k_aux, ceil(c/N)) wide (sae sends min(keep, the largest shard's latents) per row,
keep = min(k_aux, dead latents over all ranks); every latent is assumed dead enough for keep =
k_aux, and the largest shard, Communicator.slice's, holds ceil(c/N)); two ring all-reduces of B x d floats (the
reconstruction and AuxK's); b_dec's gradient (d floats), the dead-latent count (one double) and
the stop flags (2 N doubles), small, by recursive doubling: ceil(log2 N) x (bytes / bandwidth +
latency).
Memory per node: 16 bytes (weight, gradient, two moments) per parameter held, the B x c/N
pre-activations, 7 B x d buffers (batch, centred batch, reconstruction, residual, AuxK's
reconstruction, output gradients) and the gathered candidates' buffer, N B max(k, k_aux) pairs
(sae allocates it that wide, whatever N; AuxK's exchange fills k_aux' of each block); data
parallelism: 16 P, (B/N) x c pre-activations and 7 (B/N) x d buffers. The data set is not counted.
"""
import math

NODE_FLOPS = 16 * 200e9 * 0.75   # 32 cores of the 2-core machine's kind, at 75%
MEMORY_BANDWIDTH = 200e9
COMPUTE_PER_PRODUCT = 1.45
NETWORKS = (("25 GbE", 25e9 / 8, 10e-6), ("IB 200", 200e9 / 8, 2e-6))
# name, d, c, B, k, k_aux (the bench's --auxk 256 and 384; 512 for the large shape)
SHAPES = (("d512 x 4,096, B 1,024", 512, 4096, 1024, 32, 256),
          ("d768 x 16,384, B 1,024", 768, 16384, 1024, 64, 384),
          ("d4096 x 65,536, B 4,096", 4096, 65536, 4096, 64, 512))
# The sparse part of a step as measured on the 2-core machine (d 512, B 1,024, k 32): step, product, Adam.
MEASURED_STEP, MEASURED_PRODUCT, MEASURED_ADAM = 33e-3, 21.5e-3, 2.3e-3
MEASURED_BKD = 1024 * 32 * 512
MACHINE_FLOPS = 200e9


def step(d, c, batch, nodes, bandwidth, latency):
    p = 2 * d * c + c + d
    compute = COMPUTE_PER_PRODUCT * 2 * (batch / nodes) * d * c / NODE_FLOPS
    adam = 40 * p / MEMORY_BANDWIDTH
    reduce = 0 if nodes == 1 else 2 * (nodes - 1) / nodes * 4 * p / bandwidth + 2 * (nodes - 1) * latency
    return compute, adam, reduce


def ring_allreduce(nbytes, nodes, bandwidth, latency):
    return 0 if nodes == 1 else 2 * (nodes - 1) / nodes * nbytes / bandwidth + 2 * (nodes - 1) * latency


def ring_allgather(block, nodes, bandwidth, latency):
    """(N-1) steps, each receiving one node's block of `block` bytes."""
    return (nodes - 1) * (block / bandwidth + latency)


def small_allreduce(nbytes, nodes, bandwidth, latency):
    """Recursive doubling: ceil(log2 N) steps of the whole (small) buffer."""
    return math.ceil(math.log2(nodes)) * (nbytes / bandwidth + latency)


def sparse_part(d, batch, k):
    """The measured sparse part, scaled by B k d and to the node, on every node whatever N."""
    return (MEASURED_STEP - MEASURED_PRODUCT - MEASURED_ADAM) * batch * k * d / MEASURED_BKD * MACHINE_FLOPS / NODE_FLOPS


def aux_width(c, k_aux, nodes):
    """AuxK's candidates per row in each rank's block: no wider than the largest shard, ceil(c/N)
    latents (ShardedSelection.selectAuxiliary: min(keep, rank 0's slice), keep taken as k_aux)."""
    return min(k_aux, math.ceil(c / nodes))


def latent_step(d, c, batch, k, k_aux, nodes, bandwidth, latency):
    """Seconds of product, sparse part, Adam, all-gathers and all-reduces of one latent-sharded step."""
    own = c / nodes
    product = 2 * batch * d * own / NODE_FLOPS
    adam = 40 * (2 * d * own + own + d) / MEMORY_BANDWIDTH
    gathers = reduces = 0
    if nodes > 1:
        gathers = ring_allgather(8 * batch * k, nodes, bandwidth, latency) + ring_allgather(8 * batch * aux_width(c, k_aux, nodes), nodes, bandwidth, latency)
        reduces = 2 * ring_allreduce(4 * batch * d, nodes, bandwidth, latency) \
            + small_allreduce(4 * d, nodes, bandwidth, latency) + small_allreduce(8, nodes, bandwidth, latency) \
            + small_allreduce(16 * nodes, nodes, bandwidth, latency)
    return product, sparse_part(d, batch, k), adam, gathers, reduces


def grid_step(d, c, batch, k, k_aux, shards, groups, bandwidth, latency):
    """A grid (not in sae): `groups` data-parallel groups of `shards` latent shards; each group takes
    B / groups rows, then the shard's gradient (2 d c/s + c/s + d floats) is all-reduced across the
    groups (ring). Returns the seconds of a step."""
    rows = batch / groups
    product, sparse, adam, gathers, reduces = latent_step(d, c, rows, k, k_aux, shards, bandwidth, latency)
    own = c / shards
    return product + sparse + adam + gathers + reduces + ring_allreduce(4 * (2 * d * own + own + d), groups, bandwidth, latency)


def latent_memory(d, c, batch, k, k_aux, nodes):
    own = c / nodes
    return 16 * (2 * d * own + own + d) + 4 * batch * own + 7 * 4 * batch * d + (8 * nodes * batch * max(k, k_aux) if nodes > 1 else 0)


def parallel_memory(d, c, batch, nodes):
    return 16 * (2 * d * c + c + d) + 4 * (batch / nodes) * c + 7 * 4 * (batch / nodes) * d


def latent_table():
    print("| shape, global batch | nodes | network | latents per node | product ms | sparse ms | Adam ms | all-gathers ms "
          "| all-reduces ms | step (sum) ms | vectors/s | exchange share | memory per node GB "
          "| data-parallel step (sum) ms | data-parallel vectors/s | data-parallel memory per node GB |")
    for name, d, c, batch, k, k_aux in SHAPES:
        for nodes in (1, 8, 64):
            for network, bandwidth, latency in NETWORKS[:1] if nodes == 1 else NETWORKS:
                product, sparse, adam, gathers, reduces = latent_step(d, c, batch, k, k_aux, nodes, bandwidth, latency)
                total = product + sparse + adam + gathers + reduces
                parallel = sum(step(d, c, batch, nodes, bandwidth, latency))
                print(f"| {name} | {nodes} | {network if nodes > 1 else '-'} | {c // nodes:,} | {1e3 * product:.2f} | {1e3 * sparse:.2f} "
                      f"| {1e3 * adam:.2f} | {1e3 * gathers:.2f} | {1e3 * reduces:.2f} | {1e3 * total:.2f} | {batch / total:,.0f} "
                      f"| {(gathers + reduces) / total:.0%} | {1e-9 * latent_memory(d, c, batch, k, k_aux, nodes):.2f} "
                      f"| {1e3 * parallel:.2f} | {batch / parallel:,.0f} | {1e-9 * parallel_memory(d, c, batch, nodes):.2f} |")
    print()
    print("| shape | nodes | AuxK's block width k_aux' | latent sharding: bytes received per node per step | data parallelism |")
    for name, d, c, batch, k, k_aux in SHAPES:
        for nodes in (8, 64):
            latent = 8 * batch * (k + aux_width(c, k_aux, nodes)) * (nodes - 1) + 2 * 2 * (nodes - 1) / nodes * 4 * batch * d
            parallel = 2 * (nodes - 1) / nodes * 4 * (2 * d * c + c + d)
            print(f"| {name} | {nodes} | {aux_width(c, k_aux, nodes)} | {latent / 1e6:,.1f} MB | {parallel / 1e6:,.1f} MB |")
    print()
    print("| shape | nodes | network | step (sum) ms, sparse part whole on every node | sparse part / N (lower bound) |")
    for name, d, c, batch, k, k_aux in SHAPES:
        for nodes in (8, 64):
            for network, bandwidth, latency in NETWORKS:
                product, sparse, adam, gathers, reduces = latent_step(d, c, batch, k, k_aux, nodes, bandwidth, latency)
                total = product + sparse + adam + gathers + reduces
                print(f"| {name} | {nodes} | {network} | {1e3 * total:.2f} | {1e3 * (total - sparse + sparse / nodes):.2f} |")
    print()
    name, d, c, batch, k, k_aux = SHAPES[-1]
    print(f"Grids (not in sae), {name}: step (sum) ms and vectors/s with s latent shards per group, N / s groups")
    print("| nodes | network | " + " | ".join(f"s = {shards}" for shards in (1, 2, 4, 8, 16, 32, 64)) + " |")
    for nodes in (8, 64):
        for network, bandwidth, latency in NETWORKS:
            cells = []
            for shards in (1, 2, 4, 8, 16, 32, 64):
                if shards > nodes:
                    cells.append("")
                    continue
                total = grid_step(d, c, batch, k, k_aux, shards, nodes // shards, bandwidth, latency)
                cells.append(f"{1e3 * total:.0f} ms, {batch / total:,.0f}/s")
            print(f"| {nodes} | {network} | " + " | ".join(cells) + " |")
    print()
    d, c, batch, k, k_aux = 4096, 262144, 4096, 64, 512
    print(f"d {d:,} x {c:,}, B {batch:,}, k {k}, k_aux {k_aux}: state 16 P = {16e-9 * (2 * d * c + c + d):.1f} GB")
    for nodes in (1, 8, 64):
        print(f"  {nodes} node{'s' if nodes > 1 else ''}: latent sharding {1e-9 * latent_memory(d, c, batch, k, k_aux, nodes):.2f} GB per node, "
              f"data parallelism {1e-9 * parallel_memory(d, c, batch, nodes):.2f} GB per node")


def main():
    print("| shape, global batch | nodes | network | rows per node | compute ms | Adam ms | all-reduce ms | step (sum) ms "
          "| step (overlap) ms | vectors/s | all-reduce share |")
    for name, d, c, batch, _, _ in SHAPES:
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
    print()
    print("Latent sharding")
    latent_table()


if __name__ == "__main__":
    main()
