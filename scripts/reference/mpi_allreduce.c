/*
 * MPI's own all-reduce figure: the reference `colony bench allreduce` is compared with.
 *
 * Measures exactly what colony measures (Sources/colony/BenchAllReduce.swift): per size, a
 * buffer of f32 values summed in place with MPI_Allreduce, refilled before every call
 * outside the timing, each timed call after a barrier; rank 0's median over ITERATIONS
 * calls after 2 warm-up calls. Prints the same table.
 *
 *   mpicc -O2 -o mpi_allreduce scripts/reference/mpi_allreduce.c
 *   mpirun -np 2 ./mpi_allreduce [SIZES_MIB=1,16,64] [ITERATIONS=20]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WARM_UP = 2 };

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char *sizes = strdup(argc > 1 ? argv[1] : "1,16,64");
    int iterations = argc > 2 ? atoi(argv[2]) : 20;
    if (iterations < 1) {
        if (rank == 0) fprintf(stderr, "iterations must be >= 1, got '%s'\n", argv[2]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (rank == 0) {
        printf("MPI_Allreduce (MPI_IN_PLACE, MPI_FLOAT, MPI_SUM), %d ranks, median of %d after %d warm-up\n",
               size, iterations, WARM_UP);
        printf("%8s%12s%12s%12s%12s\n", "MiB", "bytes", "time_us", "algbw_GB/s", "busbw_GB/s");
    }
    double *times = malloc(sizeof(double) * iterations);
    for (char *item = strtok(sizes, ","); item; item = strtok(NULL, ",")) {
        double mib = atof(item);
        long count = (long)(mib * 1048576) / (long)sizeof(float);
        if (count < 1) count = 1;
        float *source = malloc(sizeof(float) * count), *buffer = malloc(sizeof(float) * count);
        for (long i = 0; i < count; i++) source[i] = (float)(i % 16 + rank);  /* as colony */
        for (int call = 0; call < WARM_UP + iterations; call++) {
            memcpy(buffer, source, sizeof(float) * count);
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double elapsed = MPI_Wtime() - start;
            if (call >= WARM_UP) times[call - WARM_UP] = elapsed;
        }
        qsort(times, iterations, sizeof(double), compare);
        double median = iterations % 2 ? times[iterations / 2]
                                       : (times[iterations / 2 - 1] + times[iterations / 2]) / 2;
        double bytes = (double)count * sizeof(float), algbw = bytes / median / 1e9;
        if (rank == 0)
            printf("%8g%12ld%12.1f%12.2f%12.2f\n", mib, (long)bytes, median * 1e6, algbw,
                   algbw * 2 * (size - 1) / size);
        free(source);
        free(buffer);
    }
    free(times);
    free(sizes);
    MPI_Finalize();
    return 0;
}
