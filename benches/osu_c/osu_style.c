/*
 * The plain-C side of the collectives comparison in scripts/benchmarks (`--only osu`): the
 * latency of MPI_Bcast, MPI_Scatter, MPI_Gather or MPI_Allreduce per message size, timed the way
 * the OSU Micro-Benchmarks (osu_bcast, osu_gather, ...) time them, on the same messages that
 * `halo bench collectives --raw` sends, printing the same table.
 *
 *   mpicc -O2 benches/osu_c/osu_style.c -o target/osu_c/osu_style
 *   mpirun -n 2 target/osu_c/osu_style -o gather -m 1:1048576 -i 1000 -x 100
 *
 * Options (halo's names): -o bcast|scatter|gather|allreduce (required), -m MIN:MAX message sizes
 * in bytes doubling from MIN (default 1:1048576), -i timed iterations per size (default 1000),
 * -x warm-up iterations per size (default 100). Unlike the osu_* tools, the counts do not drop
 * for large messages: every size runs -i and -x, as halo's do.
 *
 * The loop, for every size: a barrier; then each of the x + i calls is timed alone, MPI_Wtime
 * just before and just after it, and followed by a barrier outside the timed part; the i timed
 * calls' times are summed and divided by i; the figure printed is that per-rank average averaged
 * over the ranks (MPI_Reduce with MPI_SUM to rank 0, over the size), OSU's "Avg Latency(us)".
 *
 * The messages, as halo's: bcast sends SIZE bytes from rank 0; scatter sends SIZE bytes to every
 * rank from a buffer of SIZE x ranks on rank 0; gather collects SIZE bytes from every rank into
 * one of SIZE x ranks on rank 0; allreduce sums max(SIZE / 8, 1) doubles.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum op { BCAST, SCATTER, GATHER, ALLREDUCE };

static const char *const names[] = {"bcast", "scatter", "gather", "allreduce"};
static const char *const titles[] = {"Bcast", "Scatter", "Gather", "Allreduce"};

/* Reads a count >= lo from `s` into `out`; 0 on success. */
static int count(const char *s, long lo, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo) return -1;
    *out = v;
    return 0;
}

/* One call of `op` on `size` bytes (doubles for allreduce). */
static void call(enum op op, long size, char *send, char *recv, double *fsend, double *frecv) {
    int n = (int)size;
    int d = (int)(size / 8 > 0 ? size / 8 : 1);
    switch (op) {
    case BCAST:
        MPI_Bcast(send, n, MPI_CHAR, 0, MPI_COMM_WORLD);
        break;
    case SCATTER:
        MPI_Scatter(recv, n, MPI_CHAR, send, n, MPI_CHAR, 0, MPI_COMM_WORLD);
        break;
    case GATHER:
        MPI_Gather(send, n, MPI_CHAR, recv, n, MPI_CHAR, 0, MPI_COMM_WORLD);
        break;
    case ALLREDUCE:
        MPI_Allreduce(fsend, frecv, d, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        break;
    }
}

int main(int argc, char **argv) {
    int rank, ranks, k, bad = 0;
    long lo = 1, hi = 1048576, iters = 1000, warmup = 100;
    enum op op = BCAST;
    int have_op = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    for (k = 1; k < argc && !bad; k += 2) {
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (v == NULL) {
            bad = 1;
        } else if (strcmp(argv[k], "-o") == 0) {
            int j;
            for (j = 0; j < 4; j++)
                if (strcmp(v, names[j]) == 0) op = (enum op)j, have_op = 1;
            bad = !have_op;
        } else if (strcmp(argv[k], "-m") == 0) {
            const char *colon = strchr(v, ':');
            char a[32];
            if (colon == NULL || colon - v >= (long)sizeof a) {
                bad = 1;
            } else {
                memcpy(a, v, (size_t)(colon - v));
                a[colon - v] = '\0';
                bad = count(a, 1, &lo) || count(colon + 1, lo, &hi);
            }
        } else if (strcmp(argv[k], "-i") == 0) {
            bad = count(v, 1, &iters);
        } else if (strcmp(argv[k], "-x") == 0) {
            bad = count(v, 0, &warmup);
        } else {
            bad = 1;
        }
    }
    /* Every message within an int count, every buffer within a size_t. */
    if (!bad && (!have_op || hi > 0x7fffffffL / ranks)) bad = 1;
    if (bad) {
        if (rank == 0)
            fprintf(stderr, "usage: osu_style -o bcast|scatter|gather|allreduce [-m MIN:MAX] "
                            "[-i ITERS] [-x WARMUP] (1 <= MIN <= MAX, MAX x ranks < 2^31)\n");
        MPI_Finalize();
        return 2;
    }

    /* Buffers for the largest size, touched before any timing. */
    size_t one = (size_t)hi, all = (size_t)hi * (size_t)ranks;
    size_t doubles = (size_t)(hi / 8 > 0 ? hi / 8 : 1);
    char *send = malloc(one), *recv = malloc(all);
    double *fsend = malloc(doubles * sizeof *fsend), *frecv = malloc(doubles * sizeof *frecv);
    if (!send || !recv || !fsend || !frecv) {
        fprintf(stderr, "osu_style: rank %d could not allocate %zu bytes of buffers\n", rank,
                one + all + 2 * doubles * sizeof(double));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    memset(send, 1, one);
    memset(recv, 0, all);
    for (size_t j = 0; j < doubles; j++) fsend[j] = 1.0, frecv[j] = 0.0;

    if (rank == 0) {
        printf("# C %s latency (plain MPI), timed the OSU way (each call alone, a barrier after "
               "each), ranks: %d\n",
               titles[op], ranks);
        printf("# Size       Avg Latency(us)\n");
    }
    for (long size = lo; size <= hi; size *= 2) {
        double timed = 0.0, mine, sum = 0.0;
        MPI_Barrier(MPI_COMM_WORLD);
        for (long i = 0; i < warmup + iters; i++) {
            double t0 = MPI_Wtime();
            call(op, size, send, recv, fsend, frecv);
            double t1 = MPI_Wtime();
            MPI_Barrier(MPI_COMM_WORLD);
            if (i >= warmup) timed += t1 - t0;
        }
        mine = timed * 1e6 / (double)iters;
        MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) printf("%-10ld%18.2f\n", size, sum / ranks);
        if (size > hi / 2) break; /* the next doubling would pass MAX (or overflow) */
    }
    free(send);
    free(recv);
    free(fsend);
    free(frecv);
    MPI_Finalize();
    return 0;
}
